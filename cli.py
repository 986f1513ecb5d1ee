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
from engine.adapters.cli import job_commands, log_commands
from engine.adapters.cli.options import (
    at_opt,
    inputs,
    max_bytes_opt,
    now_opt,
    policy_opt,
    ticket_arg,
)
from engine.adapters.cli.output import (
    EXIT_FINDINGS,
    EXIT_INPUT,
    EXIT_UNLOGGED,
    Fail,
    echo_json,
    ok_or_exit,
    prepare_streams,
    report_problems,
)
from engine.core.durations import format_duration
from engine.explain import render
from engine.explain import why_not as why_not_
from engine.ops.log import DecisionLog, LogError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ticket-policy")
def main() -> None:
    """Support policies as data: evaluate tickets into traced decisions."""
    prepare_streams()


def _ticket(source: str) -> dict:
    """The ticket argument as `engine.app` takes it: `-` is stdin."""
    if source == "-":
        return {"ticket": sys.stdin.buffer, "source_name": "<stdin>"}
    return {"ticket": Path(source), "source_name": source}


def _open_log(path: str) -> DecisionLog:
    try:
        return DecisionLog.open(path)
    except LogError as exc:
        report_problems([exc.diagnostic])
        raise Fail(EXIT_UNLOGGED) from None


@main.command("evaluate")
@policy_opt
@now_opt
@at_opt
@inputs
@max_bytes_opt
@click.option("--log", "log_path", metavar="PATH", help="Append the decision to this decision "
              "log (created if new); printed only once its record is durable.")
@ticket_arg
def evaluate_cmd(policy: str, now: str | None, at: str | None, mapping: str | None,
                 strict: bool, error_format: str, max_ticket_bytes: int, log_path: str | None,
                 ticket: str) -> None:
    """Print the decision for one ticket as JSON (following its events)."""
    log = _open_log(log_path) if log_path else None
    try:
        decided = ok_or_exit(app.decide(policy, now_text=now, at_text=at, mapping=mapping,
                                        strict=strict, max_ticket_bytes=max_ticket_bytes,
                                        log=log, **_ticket(ticket)), fmt=error_format)
    finally:
        if log is not None:
            log.close()
    echo_json(app.decision_text(decided.decision))


@main.command("explain")
@policy_opt
@now_opt
@at_opt
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.option("--why-not", "why_not", metavar="RULE",
              help="Why RULE did not fire (at --at TS: on the facts of that instant).")
@inputs
@max_bytes_opt
@ticket_arg
def explain_cmd(policy: str, now: str | None, at: str | None, fmt: str, why_not: str | None,
                mapping: str | None, strict: bool, error_format: str, max_ticket_bytes: int,
                ticket: str) -> None:
    """Explain a decision as a numbered story a reviewer can check, and a ticket's timeline as
    a dated one."""
    given = {"now_text": now, "at_text": at, "mapping": mapping, "strict": strict,
             "max_ticket_bytes": max_ticket_bytes, **_ticket(ticket)}
    if why_not is not None:  # `--why-not ''` names no rule: an error, not the plain story
        found = ok_or_exit(app.why_not(policy, rule=why_not, **given), fmt=error_format)
        _echo(why_not_.render_why_not(found.report, fmt), fmt, nl=False)
        return
    decided = ok_or_exit(app.decide(policy, **given), fmt=error_format)
    show = {"text": render.render_text, "json": render.render_json,
            "markdown": render.render_markdown}[fmt]
    _echo(show(decided.decision, str(Path(decided.policy.policy.file).parent)), fmt, nl=False)


def _echo(text: str, fmt: str, *, nl: bool = True) -> None:
    if fmt == "json":
        echo_json(text, nl=nl)
    else:
        click.echo(text, nl=nl)


def _finish(report: app.CheckReport, fmt: str, verb: str) -> None:
    """Report (JSON on stdout, text on stderr), summarise, and exit: 2 for unusable paths, 1
    for findings, else 0. Suppressed lint findings: listed in JSON, counted in text."""
    if fmt == "json" and report.lint:
        echo_json(json.dumps(report.lint_json(), indent=2, ensure_ascii=False), err=False)
    else:
        report_problems(report.diagnostics, fmt, err=fmt != "json")
    if fmt == "text":
        click.echo(f"{report.files} file(s) {verb}, {report.findings} " +
                   ("finding(s)" if report.lint else "error(s)") +
                   (f", {len(report.suppressed)} suppressed" if report.suppressed else ""),
                   err=True)
    if report.unusable_paths:
        raise Fail(EXIT_INPUT)
    raise Fail(EXIT_FINDINGS if report.findings else 0)


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
        raise Fail(EXIT_INPUT)
    raise Fail(EXIT_FINDINGS if report.failed or report.low_coverage else 0)


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
    found = ok_or_exit(app.due(policy, calendar, start, within, timezone=timezone), one_line=True)
    click.echo(found.due.isoformat())


@main.command("elapsed")
@_with_calendar_opts
@click.option("--to", "end", required=True, metavar="TS", help="RFC 3339 with offset.")
def elapsed_cmd(policy: str, calendar: str, start: str, timezone: str | None, end: str) -> None:
    """Print the open time between FROM and TO as an ISO 8601 duration (negative if TO < FROM)."""
    found = ok_or_exit(app.elapsed(policy, calendar, start, end, timezone=timezone), one_line=True)
    click.echo(format_duration(found.elapsed, days=False))


@main.command("policies")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option("--log", "log_path", metavar="LOG", help="Warn for each version whose digest "
              "differs from one this decision log holds for the same version.")
@click.argument("refs", nargs=-1, metavar="[ID|PATH]...")
def policies_cmd(fmt: str, log_path: str | None, refs: tuple[str, ...]) -> None:
    """List the bundled policies (or those named) with every version, digest and dates."""
    found = ok_or_exit(app.list_policies(refs, log=log_path))  # its warnings on stderr
    if fmt == "json":
        echo_json(json.dumps([r.to_json() for r in found.policies], indent=2,
                             ensure_ascii=False))
        return
    for r in found.policies:
        dates = f"  in force {r.effective_from or '…'} – {r.effective_until or '…'}" \
            if r.effective_from or r.effective_until else ""
        click.echo(f"{r.id:<12} {r.version:<12} {r.digest[:23]}…  {r.title}{dates}")


for command in (log_commands.log_group, log_commands.replay_cmd, job_commands.serve_cmd,
                job_commands.batch_cmd, job_commands.report_cmd, job_commands.diff_cmd):
    main.add_command(command)


if __name__ == "__main__":
    main()
