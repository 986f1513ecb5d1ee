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

import json
import sys
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


def _report(diags, fmt: str = "text", one_line: bool = False) -> None:
    diags = sorted(diags, key=Diagnostic.sort_key)
    if fmt == "json":
        click.echo(json.dumps([d.to_json() for d in diags], indent=2, ensure_ascii=False),
                   err=True)
        return
    for d in diags:
        click.echo(d.render(one_line), err=True)


def _check(result, one_line: bool = False):
    """The result when it is ok; else its diagnostics on stderr and its exit code. Option
    problems of the calendar queries are one line each (`one_line`); the policy's are not."""
    if not result.ok:
        one_line = one_line and result.status == app.Status.INPUT_ERROR
        _report(result.diagnostics, one_line=one_line)
        raise _Fail(_EXIT[result.status])
    return result


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ticket-policy")
def main() -> None:
    """Support policies as data: evaluate tickets into traced decisions."""


_policy_opt = click.option("--policy", "-p", required=True, metavar="ID|PATH[@VERSION]",
                           help="A bundled policy id (see `policies`), a policy folder or a rule "
                           "file; @VERSION names one of its versions (default: the version in "
                           "force at the ticket's submitted_at).")
_now_opt = click.option("--now", metavar="TS",
                        help="RFC 3339 instant: adds `remaining` to the SLA.")
_ticket_arg = click.argument("ticket", metavar="TICKET.json|-")


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
@click.option("--log", "log_path", metavar="PATH", help="Append the decision to this decision "
              "log (created if new); printed only once its record is durable.")
@_ticket_arg
def evaluate_cmd(policy: str, now: str | None, log_path: str | None, ticket: str) -> None:
    """Print the decision for one ticket as JSON."""
    log = _open_log(log_path) if log_path else None
    try:
        decided = _check(app.decide(policy, now_text=now, log=log, **_ticket(ticket)))
    finally:
        if log is not None:
            log.close()
    _report(decided.diagnostics)  # warnings, e.g. version_not_bumped
    click.echo(json.dumps(decided.decision.to_json(), indent=2, ensure_ascii=False))


@main.command("explain")
@_policy_opt
@_now_opt
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.option("--why-not", "why_not", metavar="RULE", help="Why RULE did not fire.")
@_ticket_arg
def explain_cmd(policy: str, now: str | None, fmt: str, why_not: str | None, ticket: str) -> None:
    """Explain a decision as a numbered story a reviewer can check."""
    if why_not:
        found = _check(app.why_not(policy, rule=why_not, now_text=now, **_ticket(ticket)))
        click.echo(why_not_.render_why_not(found.report, fmt), nl=False)
        return
    decided = _check(app.decide(policy, now_text=now, **_ticket(ticket)))
    show = {"text": render.render_text, "json": render.render_json,
            "markdown": render.render_markdown}[fmt]
    click.echo(show(decided.decision, str(Path(decided.policy.policy.file).parent)), nl=False)


def _finish(report: app.CheckReport, fmt: str, verb: str) -> None:
    """Report, summarise, and exit: 2 for unusable paths, 1 for findings, else 0."""
    _report(report.diagnostics, fmt)
    if fmt == "text":
        click.echo(f"{report.files} file(s) {verb}, {report.findings} " +
                   ("finding(s)" if report.lint else "error(s)"), err=True)
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
@click.argument("paths", nargs=-1, metavar="[PATH]...")
def test_cmd(min_coverage: float | None, paths: tuple[str, ...]) -> None:
    """Run policy test cases (default: rules/); print coverage and `N passed, N failed`."""
    report = app.run_policy_tests(paths, min_coverage)
    for d in report.diagnostics:
        click.echo(d.render())
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
    found = _check(app.list_policies(refs, log=log_path))
    _report(found.diagnostics)
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in found.policies], indent=2,
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


if __name__ == "__main__":
    main()
