"""ticket-policy command line: option parsing, rendering and exit codes over `engine.app`.

The use cases live in `engine.app` and return data; this module only renders it. Decisions and
reports go to stdout (for `test`, its whole report: failures, coverage, counts); diagnostics to
stderr. Exit codes: 0 success; 1 findings (validate, lint, test; a log that fails `log verify`
or decisions that `replay` does not reproduce); 2 bad input or usage (unreadable or invalid
ticket, unknown policy, invalid policy file, no decision log at the path); 3 the policy failed to
decide (e.g. a firing bound exceeded, a rule action failed, a calendar without open time); 4 the
decision could not be logged (`--log`: nothing is printed as decided).
"""

from __future__ import annotations

import codecs
import io
import json
import re
import sys
import unicodedata
from pathlib import Path

import click

from engine import app
from engine.core.diagnostics import Diagnostic, Location
from engine.core.durations import format_duration
from engine.explain import render
from engine.explain import why_not as why_not_
from engine.ops import replay as replay_
from engine.ops.log import DecisionLog, LogError
from engine.ops.log import chain as log_chain
from engine.ops.log import render as log_render
from engine.ops.log.query import LogReader, Search

EXIT_FINDINGS, EXIT_INPUT, EXIT_FAILED, EXIT_UNLOGGED = 1, 2, 3, 4
_EXIT = {app.Status.OK: 0, app.Status.POLICY_ERROR: EXIT_INPUT,
         app.Status.INPUT_ERROR: EXIT_INPUT, app.Status.FAILED: EXIT_FAILED,
         app.Status.LOG_ERROR: EXIT_UNLOGGED}


class _Fail(click.exceptions.Exit):
    pass


# ---- output in any encoding: JSON is escaped where the stream cannot hold it; text degrades to
# ASCII look-alikes (→ becomes ->, é becomes e) instead of failing
_LOOKALIKES = {"→": "->", "←": "<-", "…": "...", "–": "-", "—": "--", "“": '"', "”": '"',
               "„": '"', "‘": "'", "’": "'", "≤": "<=", "≥": ">=", "≠": "!=", "×": "x",
               "•": "*", "·": ".", "\u00a0": " "}
_ASCII_FALLBACK = "ticket-policy-ascii"


def _lookalike(char: str) -> str:
    if char in _LOOKALIKES:
        return _LOOKALIKES[char]
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return base if base.isascii() and base.isprintable() and base else "?"


def _degrade(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(_lookalike(c) for c in exc.object[exc.start:exc.end]), exc.end


codecs.register_error(_ASCII_FALLBACK, _degrade)


def _prepare_streams() -> None:
    """Let stdout and stderr degrade gracefully when their encoding is not UTF-8."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if codecs.lookup(stream.encoding or "utf-8").name != "utf-8" and \
                    isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors=_ASCII_FALLBACK)
        except (AttributeError, LookupError, ValueError, OSError):
            pass  # not a reconfigurable text stream: written as it is


def _escape_json(text: str) -> str:
    """JSON text with every non-ASCII character as a \\u escape (the same JSON value)."""
    def units(m: re.Match) -> str:
        raw = m.group().encode("utf-16-be")
        return "".join(f"\\u{int.from_bytes(raw[i:i + 2], 'big'):04x}"
                       for i in range(0, len(raw), 2))
    return re.sub(r"[^\x00-\x7f]", units, text)


def _echo_json(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Write JSON text as it is where the stream can encode it, else escaped to ASCII."""
    stream = sys.stderr if err else sys.stdout
    try:
        text.encode(getattr(stream, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = _escape_json(text)
    click.echo(text, err=err, nl=nl)


def _report(diags, fmt: str = "text", one_line: bool = False, err: bool = True) -> None:
    """Diagnostics as text (one each) or as one JSON array; on stderr unless `err` is False
    (machine-readable reports go to stdout)."""
    diags = sorted(diags, key=Diagnostic.sort_key)
    if fmt == "json":
        _echo_json(json.dumps([d.to_json() for d in diags], indent=2, ensure_ascii=False),
                   err=err)
        return
    for d in diags:
        click.echo(d.render(one_line), err=err)


def _check(result, one_line: bool = False, fmt: str = "text"):
    """The result when it is ok (its warnings on stderr); else its diagnostics on stderr and
    its exit code. Option problems of the calendar queries are one line each (`one_line`); the
    policy's are not. `fmt`: `text` or `json` (`--error-format`)."""
    if not result.ok:
        one_line = one_line and result.status == app.Status.INPUT_ERROR
        _report(result.diagnostics, fmt, one_line=one_line)
        raise _Fail(_EXIT[result.status])
    if result.diagnostics:
        _report(result.diagnostics, fmt)
    return result


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ticket-policy")
def main() -> None:
    """Support policies as data: evaluate tickets into traced decisions."""
    _prepare_streams()


_policy_opt = click.option("--policy", "-p", required=True, metavar="ID|PATH[@VERSION]",
                           help="A bundled policy id (see `policies`), a policy folder or a rule "
                           "file; @VERSION names one of its versions (default: the version in "
                           "force at the ticket's submitted_at).")
_now_opt = click.option("--now", metavar="TS",
                        help="RFC 3339 instant the clocks are read at (default: the last event); "
                        "adds `remaining` to the SLA.")
_at_opt = click.option("--at", metavar="TS",
                       help="RFC 3339: the decision as it stood then (later events and a later "
                       "first response left out).")
_ticket_arg = click.argument("ticket", metavar="TICKET.json|-")
_mapping_opt = click.option("--mapping", "-m", metavar="ID|PATH",
                            help="The input is a helpdesk payload: map it with a bundled mapping "
                            "(zendesk, jira) or a mapping file.")
_strict_opt = click.option("--strict", is_flag=True,
                           help="A key that looks like a misspelt fact is an error (exit 2).")
_error_format_opt = click.option("--error-format", type=click.Choice(["text", "json"]),
                                 default="text", help="How problems are printed on stderr.")


def _inputs(fn):
    for opt in reversed((_mapping_opt, _strict_opt, _error_format_opt)):
        fn = opt(fn)
    return fn


_max_bytes_opt = click.option(
    "--max-ticket-bytes", type=click.IntRange(min=1), default=app.MAX_TICKET_BYTES,
    show_default=True, metavar="N", help="Reject larger tickets before parsing them (exit 2).")


def _ticket(source: str) -> dict:
    """The ticket argument as `engine.app` takes it: `-` is stdin."""
    if source == "-":
        return {"ticket": sys.stdin.buffer, "source_name": "<stdin>"}
    return {"ticket": Path(source), "source_name": source}


def _open_log(path: str) -> DecisionLog:
    try:
        return DecisionLog.open(path)
    except LogError as exc:
        _report([exc.diagnostic])
        raise _Fail(EXIT_UNLOGGED) from None


@main.command("evaluate")
@_policy_opt
@_now_opt
@_at_opt
@_inputs
@_max_bytes_opt
@click.option("--log", "log_path", metavar="PATH", help="Append the decision to this decision "
              "log (created if new); printed only once its record is durable.")
@_ticket_arg
def evaluate_cmd(policy: str, now: str | None, at: str | None, mapping: str | None,
                 strict: bool, error_format: str, max_ticket_bytes: int, log_path: str | None,
                 ticket: str) -> None:
    """Print the decision for one ticket as JSON (following its events)."""
    log = _open_log(log_path) if log_path else None
    try:
        decided = _check(app.decide(policy, now_text=now, at_text=at, mapping=mapping,
                                    strict=strict, max_ticket_bytes=max_ticket_bytes, log=log,
                                    **_ticket(ticket)), fmt=error_format)
    finally:
        if log is not None:
            log.close()
    _echo_json(app.decision_text(decided.decision))


@main.command("explain")
@_policy_opt
@_now_opt
@_at_opt
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.option("--why-not", "why_not", metavar="RULE",
              help="Why RULE did not fire (at --at TS: on the facts of that instant).")
@_inputs
@_max_bytes_opt
@_ticket_arg
def explain_cmd(policy: str, now: str | None, at: str | None, fmt: str, why_not: str | None,
                mapping: str | None, strict: bool, error_format: str, max_ticket_bytes: int,
                ticket: str) -> None:
    """Explain a decision as a numbered story a reviewer can check, and a ticket's timeline as
    a dated one."""
    given = {"now_text": now, "at_text": at, "mapping": mapping, "strict": strict,
             "max_ticket_bytes": max_ticket_bytes, **_ticket(ticket)}
    if why_not is not None:  # `--why-not ''` names no rule: an error, not the plain story
        found = _check(app.why_not(policy, rule=why_not, **given), fmt=error_format)
        _echo(why_not_.render_why_not(found.report, fmt), fmt, nl=False)
        return
    decided = _check(app.decide(policy, **given), fmt=error_format)
    show = {"text": render.render_text, "json": render.render_json,
            "markdown": render.render_markdown}[fmt]
    _echo(show(decided.decision, str(Path(decided.policy.policy.file).parent)), fmt, nl=False)


def _echo(text: str, fmt: str, *, nl: bool = True) -> None:
    if fmt == "json":
        _echo_json(text, nl=nl)
    else:
        click.echo(text, nl=nl)


def _finish(report: app.CheckReport, fmt: str, verb: str) -> None:
    """Report (JSON on stdout, text on stderr), summarise, and exit: 2 for unusable paths, 1
    for findings, else 0. Suppressed lint findings: listed in JSON, counted in text."""
    if fmt == "json" and report.lint:
        _echo_json(json.dumps(report.lint_json(), indent=2, ensure_ascii=False), err=False)
    else:
        _report(report.diagnostics, fmt, err=fmt != "json")
    if fmt == "text":
        click.echo(f"{report.files} file(s) {verb}, {report.findings} " +
                   ("finding(s)" if report.lint else "error(s)") +
                   (f", {len(report.suppressed)} suppressed" if report.suppressed else ""),
                   err=True)
    if report.unusable_paths:
        raise _Fail(EXIT_INPUT)
    raise _Fail(EXIT_FINDINGS if report.findings else 0)


@main.command("validate")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
def validate_cmd(fmt: str, paths: tuple[str, ...]) -> None:
    """Check policy files: YAML hazards, schema, references. Exit 1 on any error."""
    _finish(app.check_paths(paths, lint=False), fmt, "checked")


@main.command("lint")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
def lint_cmd(fmt: str, paths: tuple[str, ...]) -> None:
    """Static analysis: conflicts, gaps, cycles, dead rules. Exit 1 on findings."""
    _finish(app.check_paths(paths, lint=True), fmt, "linted")


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line if line else line for line in text.splitlines())


@main.command("test")
@click.option("--min-coverage", type=click.FloatRange(0, 100), metavar="PCT",
              help="Fail when a policy's rule coverage is below PCT percent.")
@click.option("--strict", is_flag=True,
              help="A ticket key that looks like a misspelt fact fails its case.")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
def test_cmd(min_coverage: float | None, strict: bool, paths: tuple[str, ...]) -> None:
    """Run policy test cases (default: ./rules); print coverage and `N passed, N failed`."""
    report = app.run_policy_tests(paths, min_coverage, strict=strict)
    if report.tested:
        click.echo(f"testing {report.tested}")
    for d in report.diagnostics:
        click.echo(d.render())
    for r in report.results:
        for w in r.warnings:
            click.echo(w.render(), err=True)
    for r in report.failed:
        click.echo(f"FAIL {r.case.where}: {r.case.note}")
        for problem in r.problems:
            click.echo(_indent(problem))
    for cov in report.coverage:
        click.echo(cov.line())
        for rule in cov.uncovered:
            click.echo(f"  not fired: {rule}")
    for cov in report.low_coverage:
        click.echo(f"coverage {cov.policy_id} is below --min-coverage {min_coverage:g}%")
    click.echo(f"{report.passed} passed, {len(report.failed)} failed")
    if report.bad_test_files:
        raise _Fail(EXIT_INPUT)
    raise _Fail(EXIT_FINDINGS if report.failed or report.low_coverage else 0)


_calendar_opts = [
    click.option("--policy", "-p", required=True, metavar="ID|PATH", help="Bundled id or file."),
    click.option("--calendar", "-c", "calendar", required=True, metavar="NAME"),
    click.option("--from", "start", required=True, metavar="TS", help="RFC 3339 with offset."),
    click.option("--timezone", metavar="TZ", help="The customer's zone, for customer calendars."),
]


def _with_calendar_opts(fn):
    for opt in reversed(_calendar_opts):
        fn = opt(fn)
    return fn


@main.command("due")
@_with_calendar_opts
@click.option("--within", required=True, metavar="DURATION", help="ISO 8601 open time: PT3H.")
def due_cmd(policy: str, calendar: str, start: str, timezone: str | None, within: str) -> None:
    """Print when WITHIN of open time has elapsed since FROM (RFC 3339, calendar's zone)."""
    found = _check(app.due(policy, calendar, start, within, timezone=timezone), one_line=True)
    click.echo(found.due.isoformat())


@main.command("elapsed")
@_with_calendar_opts
@click.option("--to", "end", required=True, metavar="TS", help="RFC 3339 with offset.")
def elapsed_cmd(policy: str, calendar: str, start: str, timezone: str | None, end: str) -> None:
    """Print the open time between FROM and TO as an ISO 8601 duration (negative if TO < FROM)."""
    found = _check(app.elapsed(policy, calendar, start, end, timezone=timezone), one_line=True)
    click.echo(format_duration(found.elapsed, days=False))


@main.command("policies")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--log", "log_path", metavar="LOG", help="Warn for each version whose digest "
              "differs from one this decision log holds for the same version.")
@click.argument("refs", nargs=-1, metavar="[ID|PATH]...")
def policies_cmd(fmt: str, log_path: str | None, refs: tuple[str, ...]) -> None:
    """List the bundled policies (or those named) with every version, digest and dates."""
    found = _check(app.list_policies(refs, log=log_path))  # its warnings on stderr
    if fmt == "json":
        _echo_json(json.dumps([r.to_json() for r in found.policies], indent=2,
                              ensure_ascii=False))
        return
    for r in found.policies:
        dates = f"  in force {r.effective_from or '…'} – {r.effective_until or '…'}" \
            if r.effective_from or r.effective_until else ""
        click.echo(f"{r.id:<12} {r.version:<12} {r.digest[:23]}…  {r.title}{dates}")


# --------------------------------------------------------------------------- the decision log

_format_opt = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
_log_arg = click.argument("log_path", metavar="LOG")


def _reader(path: str) -> LogReader:
    try:
        return LogReader(path)
    except LogError as exc:
        _report([exc.diagnostic])
        raise _Fail(EXIT_INPUT) from None


def _bad_option(option: str, message: str, code: str = "bad_option") -> _Fail:
    _report([Diagnostic(code, message, location=Location(file=option))], one_line=True)
    return _Fail(EXIT_INPUT)


@main.group("log")
def log_group() -> None:
    """The decision log: show, search, verify, checkpoint, export (LOG comes first)."""


@log_group.command("show")
@_log_arg
@click.argument("ident", metavar="[ID]", required=False)
@click.option("--ticket", metavar="T", help="Every record of ticket T, in log order.")
@_format_opt
def log_show_cmd(log_path: str, ident: str | None, ticket: str | None, fmt: str) -> None:
    """A record (by decision id, a unique prefix of one, or seq) and its story."""
    if (ident is None) == (ticket is None):
        raise _bad_option("log show", "give a decision id or `--ticket T`, not both")
    with _reader(log_path) as reader:
        found = reader.for_ticket(ticket) if ticket else \
            [r for r in [reader.get(str(ident))] if r]
        if not found:
            what = f"ticket `{ticket}`" if ticket else f"decision `{ident}`"
            raise _bad_option("log show", f"no record of {what} in `{log_path}`",
                              "log_no_record")
        for rec in found:
            source = reader.source(rec.record["policy"]["source_digest"])
            click.echo(log_render.render_record(rec, source, fmt), nl=False)


@log_group.command("search")
@_log_arg
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
            raise _bad_option("--since/--until", str(exc)) from None


@log_group.command("verify")
@_log_arg
@click.option("--checkpoint", metavar="SEQ:HASH", help="Also prove that nothing up to this "
              "checkpoint (printed by `log checkpoint`) changed.")
@_format_opt
def log_verify_cmd(log_path: str, checkpoint: str | None, fmt: str) -> None:
    """Recompute the hash chain and every digest; exit 1 naming the first bad record."""
    try:
        mark = log_chain.parse_checkpoint(checkpoint) if checkpoint else None
    except ValueError as exc:
        raise _bad_option("--checkpoint", str(exc)) from None
    try:
        report = log_chain.verify(log_path, mark)
    except LogError as exc:
        _report([exc.diagnostic])
        raise _Fail(EXIT_INPUT) from None
    if fmt == "json":
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        click.echo(log_render.render_verify(report, log_path), nl=False, err=not report.ok)
    raise _Fail(0 if report.ok else EXIT_FINDINGS)


@log_group.command("checkpoint")
@_log_arg
def log_checkpoint_cmd(log_path: str) -> None:
    """Verify the log, then print its head as SEQ:HASH (keep it outside the log)."""
    try:
        report = log_chain.verify(log_path)
    except LogError as exc:
        _report([exc.diagnostic])
        raise _Fail(EXIT_INPUT) from None
    if not report.ok:
        click.echo(log_render.render_verify(report, log_path), nl=False, err=True)
        raise _Fail(EXIT_FINDINGS)
    click.echo(f"{report.head[0]}:{report.head[1]}")


@log_group.command("export")
@_log_arg
@click.option("--since", metavar="TS", help="Logged at or after TS (RFC 3339).")
@click.option("--policy", metavar="ID")
def log_export_cmd(log_path: str, since: str | None, policy: str | None) -> None:
    """Every record as one JSON line: seq, prev_hash, hash, record, trace."""
    with _reader(log_path) as reader:
        try:
            for rec in reader.search(Search(policy=policy, since=since)):
                click.echo(json.dumps(rec.export(), ensure_ascii=False, sort_keys=True))
        except ValueError as exc:
            raise _bad_option("--since", str(exc)) from None


@main.command("replay")
@_log_arg
@click.option("--since", metavar="TS", help="Records logged at or after TS (RFC 3339).")
@click.option("--policy", metavar="ID", help="Only decisions of this policy id.")
@_format_opt
def replay_cmd(log_path: str, since: str | None, policy: str | None, fmt: str) -> None:
    """Re-evaluate logged decisions under their logged source and now; exit 1 on a difference."""
    try:
        report = replay_.replay(log_path, since=since, policy=policy)
    except LogError as exc:
        _report([exc.diagnostic])
        raise _Fail(EXIT_INPUT) from None
    except ValueError as exc:
        raise _bad_option("--since", str(exc)) from None
    click.echo(log_render.render_replay(report, fmt), nl=False)
    raise _Fail(0 if report.ok else EXIT_FINDINGS)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8080, show_default=True, type=int, help="0: any free port.")
@click.option("--workers", default=1, show_default=True, type=int, help="Worker processes.")
@click.option("--policies", "policies", multiple=True, metavar="DIR|ID",
              help="Policies to serve (repeatable): folders, files or bundled ids; "
                   "default: every bundled policy.")
@click.option("--mapping", metavar="NAME|PATH", help="The helpdesk payload mapping of requests "
              "that name none.")
@click.option("--admin-token-file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Bearer token of the admin endpoints (disabled without one).")
@click.option("--echo", is_flag=True, help="Add POST /v1/echo (the benchmark's HTTP floor).")
@click.option("--log", "log", metavar="PATH", help="Append every decision to this decision log "
              "(created if new) before answering it; 503 when it cannot be written.")
@click.option("--ui-log-tries", is_flag=True, help="/ui's \"try a ticket\" writes its decisions "
              "to the decision log (off: the UI never writes).")
@click.option("--check", is_flag=True, help="Check the options and policies, then exit.")
def serve_cmd(check: bool, **options) -> None:
    """Serve decisions over HTTP (see docs/service.md); SIGHUP reloads the policies."""
    from engine.adapters.service import server
    from engine.adapters.service.config import ServiceConfig, check_options
    from engine.adapters.service.policyset import load_set

    config = ServiceConfig(**{**options, "policies": tuple(options["policies"])})
    problems = check_options(config)
    policies, diags = load_set(config.policies)
    _report([*problems, *diags])
    if problems or policies is None:
        raise _Fail(EXIT_INPUT)
    if check:
        click.echo(f"ok: {len(policies.by_id)} policies ({', '.join(policies.by_id)}), "
                   f"set {policies.digest[:23]}…", err=True)
        return
    failed = server.run(config)
    if failed:
        _report(failed)
        raise _Fail(EXIT_INPUT)


# --------------------------------------------------------------------------- batch and report


@main.command("batch")
@_policy_opt
@click.option("--mapping", metavar="M", help="Read each line as a helpdesk payload mapped by M.")
@_now_opt
@click.option("-o", "--output", metavar="OUT", help="Output file (`.gz`: gzip; default stdout); "
              "with --dask a pattern such as `out/part-*.jsonl`.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              help="jsonl: one decision or error record per line; csv: flat columns.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Worker processes (default: the machine's cores).")
@click.option("--resume", is_flag=True, help="Continue a killed or failed run from OUT.partial.")
@click.option("--summary", is_flag=True, help="Print counts by priority, rule, plan and SLA.")
@click.option("--summary-format", type=click.Choice(["text", "markdown", "json"]),
              default="text", help="How --summary is printed.")
@click.option("--dask", metavar="tcp://HOST:PORT|local",
              help="Decide on a Dask cluster (`local`: a LocalCluster of --workers processes).")
@click.option("--partition-size", "partition_size", metavar="SIZE",
              help="--dask: input per partition, e.g. `64MiB` (the default).")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
@click.option("--log", "log_path", metavar="PATH", help="Append each decided line's record to "
              "this decision log (created if new); a line is written once its record is durable.")
@click.argument("source", metavar="IN.jsonl|-")
def batch_cmd(policy: str, mapping: str | None, now: str | None, output: str | None, fmt: str,
              workers: int | None, resume: bool, summary: bool, summary_format: str,
              dask: str | None, partition_size: str | None, progress: bool | None,
              log_path: str | None, source: str) -> None:
    """Decide every ticket of a JSON lines file: one output line per input line, in order.

    Of a policy's effective-dated versions, each line is decided by the one in force at its
    submitted_at (as `evaluate`), or by the one -p ID@VERSION names; a line no version is in
    force for is an error record (version_not_in_force).

    Prints `N decided, E rejected, T s` on stderr; exit 0 all decided, 1 some rejected,
    2 usage or unusable input, 3 a worker failed, 4 the decision log could not be written.
    """
    from engine.adapters.batch.job import BatchJob, run_job

    job = BatchJob(policy=policy, input=source, output=output, now=now, fmt=fmt,
                   workers=workers, resume=resume, summary=summary, mapping=mapping, dask=dask,
                   partition_size=partition_size, progress=progress, log=log_path)
    try:
        done = run_job(job)
    except KeyboardInterrupt:
        kept = f"; the lines written so far are kept in `{output}.partial`, rerun with " \
            "--resume to continue" if output not in (None, "-") else ""
        click.echo(f"interrupted{kept}", err=True)
        raise _Fail(130) from None
    if not done.ok:
        _report(done.diagnostics)
        raise _Fail(_EXIT[done.status])
    r = done.result
    if summary and r.summary is not None:
        click.echo(r.summary.render(summary_format), nl=False, err=output in (None, "-"))
    click.echo(f"{r.decided} decided, {r.rejected} rejected, {done.seconds:.1f} s", err=True)
    raise _Fail(EXIT_FINDINGS if r.rejected else 0)


@main.command("report")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text")
@click.argument("paths", nargs=-1, required=True, metavar="OUT.jsonl...")
def report_cmd(fmt: str, paths: tuple[str, ...]) -> None:
    """Summarise batch output (JSON lines, `.gz` too, several files or `-`): decisions by
    priority, reclassifications by rule, SLA by plan and priority, no-guarantee reasons."""
    from engine.adapters.batch.files import BatchIOError, Input

    total, problems = app.Summary(), []
    for path in paths:
        try:
            source = Input(path)
            try:
                summary, diags = app.summarize(source.lines(), source.name)
            finally:
                source.close()
        except BatchIOError as exc:
            problems.append(exc.diagnostic)
            continue
        total.merge(summary)
        problems += diags
    _report(problems)
    click.echo(total.render(fmt), nl=False)
    raise _Fail(EXIT_INPUT if problems else 0)


@main.command("diff")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json", "html"]),
              default="text")
@click.option("-o", "output", type=click.Path(dir_okay=False), help="Write the report here.")
@click.option("--log", "log_path", metavar="LOG", help="Compare over the tickets of a decision "
              "log (those decided under OLD's policy id), instead of CORPUS.")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Decide the corpus on the batch engine with N worker processes.")
@click.option("--dask", metavar="tcp://HOST:PORT|local",
              help="Decide the corpus on a Dask cluster (`local`: --workers processes).")
@click.argument("old")
@click.argument("new")
@click.argument("corpus", required=False, metavar="[CORPUS.jsonl]")
def diff_cmd(fmt: str, output: str | None, log_path: str | None, workers: int | None,
             dask: str | None, old: str, new: str, corpus: str | None) -> None:
    """What changes from policy OLD to NEW (folders, files, bundled ids or git:REV:path): the
    static changes, the decisions that change over the categorical fact space and, given a
    CORPUS or --log, over those tickets. Exit 0 no decision changes, 1 changes, 2 bad input,
    3 a batch worker failed."""
    import tempfile

    from engine.ops.diff import render as render_diff

    if corpus is not None and log_path is not None:
        raise _bad_option("--log", "give a CORPUS or `--log LOG`, not both")
    if (workers is not None or dask is not None) and corpus is None and log_path is None:
        raise _bad_option("--workers", "--workers and --dask decide a corpus: give CORPUS.jsonl "
                          "or --log LOG")
    with tempfile.TemporaryDirectory(prefix="tp-diff-") as tmp:
        decide = None if workers is None and dask is None else \
            _batch_decider(Path(tmp), workers, dask)
        result = app.diff(old, new, corpus, decide=decide, log=log_path)
    if result.diff is None:
        _report(result.diagnostics)
        raise _Fail(EXIT_FAILED if result.status == "failed" else EXIT_INPUT)
    report = render_diff(result.diff, fmt)
    if output:
        Path(output).write_text(report, encoding="utf-8")
    else:
        click.echo(report, nl=False)
    if result.diff.decisions_change:
        raise _Fail(EXIT_FINDINGS)


def _batch_decider(tmp: Path, workers: int | None, dask: str | None):
    """`diff --workers/--dask`: each version decides the corpus by the batch engine's
    `run_job` (as `ticket-policy batch` would), its output read back in order."""
    import itertools

    from engine.adapters.batch.job import BatchJob, run_job
    from engine.ops.diff.corpus import DecideError

    runs = itertools.count()

    def decide(side, corpus: str):
        n = next(runs)
        policy = tmp / f"policy-{n}.yaml"
        policy.write_text(side.text, encoding="utf-8")
        out = tmp / f"out-{n}"
        target = str(out / "part-*.jsonl") if dask else str(out) + ".jsonl"
        done = run_job(BatchJob(policy=str(policy), input=corpus, output=target,
                                workers=workers, dask=dask, progress=False))
        if not done.ok:
            raise DecideError("failed" if done.status == app.Status.FAILED else "input_error",
                              done.diagnostics)
        parts = sorted(out.glob("part-*.jsonl")) if dask else [Path(target)]
        for part in parts:
            with part.open("rb") as f:
                yield from f

    return decide


if __name__ == "__main__":
    main()
