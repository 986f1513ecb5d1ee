"""`log show|search|verify|checkpoint|export` and `replay`: the decision log's commands (the
log file is always the first argument)."""

from __future__ import annotations

import json

import click

from engine.adapters.cli.options import format_opt, log_arg, progress_opt
from engine.adapters.cli.output import (
    EXIT_FINDINGS,
    EXIT_INPUT,
    Fail,
    bad_option,
    echo_json,
    report_problems,
)
from engine.adapters.cli.progress import log_progress
from engine.ops import replay as replay_
from engine.ops.log import LogError
from engine.ops.log import chain as log_chain
from engine.ops.log import render as log_render
from engine.ops.log.query import AmbiguousId, LogReader, LogRecord, Search


def _reader(path: str) -> LogReader:
    try:
        return LogReader(path)
    except LogError as exc:
        report_problems([exc.diagnostic])
        raise Fail(EXIT_INPUT) from None


@click.group("log")
def log_group() -> None:
    """The decision log: show, search, verify, checkpoint, export (LOG comes first)."""


@log_group.command("show")
@log_arg
@click.argument("ident", metavar="[ID]", required=False)
@click.option("--ticket", metavar="T", help="Every record of ticket T, in log order.")
@click.option("--seq", type=click.IntRange(1), metavar="N", help="The record with seq N.")
@format_opt
def log_show_cmd(log_path: str, ident: str | None, ticket: str | None, seq: int | None,
                 fmt: str) -> None:
    """A record and its story: by ID (a decision id, a unique prefix of one, or a seq no
    decision id starts with), by `--seq N`, or every record of `--ticket T`.

    `--format json`: one JSON document, the record's object (ID, --seq) or an array of the
    ticket's records (--ticket, also for one)."""
    if sum(x is not None for x in (ident, ticket, seq)) != 1:
        raise bad_option("log show", "give one of a decision id, `--seq N` or `--ticket T`")
    with _reader(log_path) as reader:
        found = reader.for_ticket(ticket) if ticket is not None else \
            [r for r in [_one(reader, ident, seq)] if r]
        if not found:
            what = f"ticket `{ticket}`" if ticket is not None else \
                f"seq {seq}" if seq is not None else f"decision `{ident}`"
            raise bad_option("log show", f"no record of {what} in `{log_path}`",
                             "log_no_record")
        sources = [] if fmt == "json" else \
            [reader.source(r.record["policy"]["source_digest"]) for r in found]
    if fmt == "json":
        docs = [log_render.record_json(r) for r in found]
        echo_json(json.dumps(docs if ticket is not None else docs[0], indent=2,
                             ensure_ascii=False))
        return
    for rec, source in zip(found, sources, strict=True):
        click.echo(log_render.render_record(rec, source, fmt), nl=False)


def _one(reader: LogReader, ident: str | None, seq: int | None) -> LogRecord | None:
    if seq is not None:
        return reader.by_seq(seq)
    try:
        return reader.get(str(ident))
    except AmbiguousId as exc:
        hint = f"use `--seq {exc.seq}` for the record, or give more characters of the " \
            "decision id" if exc.seq is not None else "give more characters of the decision id"
        raise bad_option("log show", str(exc), "log_ambiguous_id", hint) from None


@log_group.command("search")
@log_arg
@click.option("--ticket", metavar="T")
@click.option("--policy", metavar="ID")
@click.option("--version", "version", metavar="VERSION")
@click.option("--priority", metavar="LEVEL")
@click.option("--rule", metavar="RULE", help="Records in which RULE fired.")
@click.option("--sla", type=click.Choice(["none", "met", "breached", "overdue", "open"]))
@click.option("--since", metavar="TS", help="Logged at or after TS (RFC 3339).")
@click.option("--until", metavar="TS", help="Logged before TS (RFC 3339).")
@click.option("--limit", type=click.IntRange(1), metavar="N")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text")
def log_search_cmd(log_path: str, fmt: str, **filters) -> None:
    """Records matching every filter given, in log order."""
    with _reader(log_path) as reader:
        try:
            click.echo(log_render.render_search(reader.search(Search(**filters)), fmt),
                       nl=False)
        except ValueError as exc:
            raise bad_option("--since/--until", str(exc)) from None


@log_group.command("verify")
@log_arg
@click.option("--checkpoint", metavar="SEQ:HASH", help="Also prove that nothing up to this "
              "checkpoint (printed by `log checkpoint`) changed.")
@format_opt
@progress_opt
def log_verify_cmd(log_path: str, checkpoint: str | None, fmt: str,
                   progress: bool | None) -> None:
    """Recompute the hash chain and every digest; exit 1 naming the first bad record."""
    try:
        mark = log_chain.parse_checkpoint(checkpoint) if checkpoint else None
    except ValueError as exc:
        raise bad_option("--checkpoint", str(exc)) from None
    try:
        report = _verify(log_path, mark, progress)
    except LogError as exc:
        report_problems([exc.diagnostic])
        raise Fail(EXIT_INPUT) from None
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(log_render.render_verify(report, log_path), nl=False, err=not report.ok)
    raise Fail(0 if report.ok else EXIT_FINDINGS)


def _verify(log_path: str, mark: tuple[int, str] | None,
            progress: bool | None) -> log_chain.VerifyReport:
    with log_progress(progress, "verify", log_path) as moved:
        return log_chain.verify(log_path, mark, progress=moved)


@log_group.command("checkpoint")
@log_arg
@progress_opt
def log_checkpoint_cmd(log_path: str, progress: bool | None) -> None:
    """Verify the log, then print its head as SEQ:HASH (keep it outside the log)."""
    try:
        report = _verify(log_path, None, progress)
    except LogError as exc:
        report_problems([exc.diagnostic])
        raise Fail(EXIT_INPUT) from None
    if not report.ok:
        click.echo(log_render.render_verify(report, log_path), nl=False, err=True)
        raise Fail(EXIT_FINDINGS)
    click.echo(f"{report.head[0]}:{report.head[1]}")


@log_group.command("export")
@log_arg
@click.option("--since", metavar="TS", help="Logged at or after TS (RFC 3339).")
@click.option("--policy", metavar="ID")
def log_export_cmd(log_path: str, since: str | None, policy: str | None) -> None:
    """Every record as one JSON line: seq, prev_hash, hash, record, trace."""
    with _reader(log_path) as reader:
        try:
            for rec in reader.search(Search(policy=policy, since=since)):
                click.echo(json.dumps(rec.export(), ensure_ascii=False, sort_keys=True))
        except ValueError as exc:
            raise bad_option("--since", str(exc)) from None


@click.command("replay")
@log_arg
@click.option("--since", metavar="TS", help="Records logged at or after TS (RFC 3339).")
@click.option("--policy", metavar="ID", help="Only decisions of this policy id.")
@format_opt
@progress_opt
def replay_cmd(log_path: str, since: str | None, policy: str | None, fmt: str,
               progress: bool | None) -> None:
    """Re-evaluate logged decisions under their logged source and now; exit 1 on a difference."""
    try:
        with log_progress(progress, "replay", log_path,
                          counted=since is None and policy is None) as moved:
            report = replay_.replay(log_path, since=since, policy=policy, progress=moved)
    except LogError as exc:
        report_problems([exc.diagnostic])
        raise Fail(EXIT_INPUT) from None
    except ValueError as exc:
        raise bad_option("--since", str(exc)) from None
    click.echo(log_render.render_replay(report, fmt), nl=False)
    raise Fail(0 if report.ok else EXIT_FINDINGS)
