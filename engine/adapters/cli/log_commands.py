"""`log show|search|verify|checkpoint|export` and `replay`: the decision log's commands (the
log file is always the first argument)."""

from __future__ import annotations

import json

import click

from engine.adapters.cli.options import format_opt, log_arg
from engine.adapters.cli.output import (
    EXIT_FINDINGS,
    EXIT_INPUT,
    Fail,
    bad_option,
    report_problems,
)
from engine.ops import replay as replay_
from engine.ops.log import LogError
from engine.ops.log import chain as log_chain
from engine.ops.log import render as log_render
from engine.ops.log.query import LogReader, Search


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
@format_opt
def log_show_cmd(log_path: str, ident: str | None, ticket: str | None, fmt: str) -> None:
    """A record (by decision id, a unique prefix of one, or seq) and its story."""
    if (ident is None) == (ticket is None):
        raise bad_option("log show", "give a decision id or `--ticket T`, not both")
    with _reader(log_path) as reader:
        found = reader.for_ticket(ticket) if ticket else \
            [r for r in [reader.get(str(ident))] if r]
        if not found:
            what = f"ticket `{ticket}`" if ticket else f"decision `{ident}`"
            raise bad_option("log show", f"no record of {what} in `{log_path}`",
                             "log_no_record")
        for rec in found:
            source = reader.source(rec.record["policy"]["source_digest"])
            click.echo(log_render.render_record(rec, source, fmt), nl=False)


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
def log_verify_cmd(log_path: str, checkpoint: str | None, fmt: str) -> None:
    """Recompute the hash chain and every digest; exit 1 naming the first bad record."""
    try:
        mark = log_chain.parse_checkpoint(checkpoint) if checkpoint else None
    except ValueError as exc:
        raise bad_option("--checkpoint", str(exc)) from None
    try:
        report = log_chain.verify(log_path, mark)
    except LogError as exc:
        report_problems([exc.diagnostic])
        raise Fail(EXIT_INPUT) from None
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(log_render.render_verify(report, log_path), nl=False, err=not report.ok)
    raise Fail(0 if report.ok else EXIT_FINDINGS)


@log_group.command("checkpoint")
@log_arg
def log_checkpoint_cmd(log_path: str) -> None:
    """Verify the log, then print its head as SEQ:HASH (keep it outside the log)."""
    try:
        report = log_chain.verify(log_path)
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
def replay_cmd(log_path: str, since: str | None, policy: str | None, fmt: str) -> None:
    """Re-evaluate logged decisions under their logged source and now; exit 1 on a difference."""
    try:
        report = replay_.replay(log_path, since=since, policy=policy)
    except LogError as exc:
        report_problems([exc.diagnostic])
        raise Fail(EXIT_INPUT) from None
    except ValueError as exc:
        raise bad_option("--since", str(exc)) from None
    click.echo(log_render.render_replay(report, fmt), nl=False)
    raise Fail(0 if report.ok else EXIT_FINDINGS)
