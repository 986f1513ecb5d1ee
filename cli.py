"""ticket-policy command line: option parsing, rendering and exit codes over `engine.app`.

The use cases live in `engine.app` and return data; this module only renders it. Decisions and
reports go to stdout (for `test`, its whole report: failures, coverage, counts); diagnostics to
stderr. Exit codes: 0 success; 1 findings (validate, lint, test); 2 bad input or usage
(unreadable or invalid ticket, unknown policy, invalid policy file); 3 the policy failed to
decide (e.g. a firing bound exceeded, a rule action failed, a calendar without open time).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from engine import app
from engine.core.diagnostics import Diagnostic
from engine.core.durations import format_duration
from engine.explain import render
from engine.explain import why_not as why_not_

EXIT_FINDINGS, EXIT_INPUT, EXIT_FAILED = 1, 2, 3
_EXIT = {app.Status.OK: 0, app.Status.POLICY_ERROR: EXIT_INPUT,
         app.Status.INPUT_ERROR: EXIT_INPUT, app.Status.FAILED: EXIT_FAILED}


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


_policy_opt = click.option("--policy", "-p", required=True, metavar="ID|PATH",
                           help="A bundled policy id (see `policies`) or a rule file.")
_now_opt = click.option("--now", metavar="TS",
                        help="RFC 3339 instant: adds `remaining` to the SLA.")
_ticket_arg = click.argument("ticket", metavar="TICKET.json|-")


def _ticket(source: str) -> dict:
    """The ticket argument as `engine.app` takes it: `-` is stdin."""
    if source == "-":
        return {"ticket": sys.stdin.buffer, "source_name": "<stdin>"}
    return {"ticket": Path(source), "source_name": source}


@main.command("evaluate")
@_policy_opt
@_now_opt
@_ticket_arg
def evaluate_cmd(policy: str, now: str | None, ticket: str) -> None:
    """Print the decision for one ticket as JSON."""
    decided = _check(app.decide(policy, now_text=now, **_ticket(ticket)))
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
def policies_cmd(fmt: str) -> None:
    """List the bundled policies with version and digest."""
    rows = _check(app.list_policies()).policies
    if fmt == "json":
        click.echo(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r.id:<12} {r.version:<12} {r.digest[:23]}…  {r.title}")


@main.command("diff")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json", "html"]),
              default="text")
@click.option("-o", "output", type=click.Path(dir_okay=False), help="Write the report here.")
@click.argument("old")
@click.argument("new")
@click.argument("corpus", required=False, metavar="[CORPUS.jsonl]")
def diff_cmd(fmt: str, output: str | None, old: str, new: str, corpus: str | None) -> None:
    """What changes from policy OLD to NEW (folders, files, bundled ids or git:REV:path);
    exit 0 no decision changes, 1 changes, 2 bad input."""
    from engine.ops.diff import render as render_diff
    result = app.diff(old, new, corpus)
    if result.diff is None:
        _report(result.diagnostics)
        raise _Fail(EXIT_INPUT)
    report = render_diff(result.diff, fmt)
    if output:
        Path(output).write_text(report, encoding="utf-8")
    else:
        click.echo(report, nl=False)
    if result.diff.decisions_change:
        raise _Fail(EXIT_FINDINGS)


if __name__ == "__main__":
    main()
