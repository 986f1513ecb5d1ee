"""ticket-policy command line: a thin adapter over the engine.

Decisions and reports go to stdout (for `test`, its whole report: failures, coverage, counts);
diagnostics to stderr. Exit codes: 0 success; 1 findings (validate, lint, test); 2 bad input or
usage (unreadable or invalid ticket, unknown policy, invalid policy file); 3 the policy failed to
decide (e.g. a firing bound exceeded, a rule action failed, a calendar without open time).
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import click

from engine import (
    DiagnosticError,
    EvaluationError,
    TicketError,
    bundled,
    compile_policy,
    evaluate,
    load_policy,
)
from engine.check.files import check_file
from engine.check.tickets import parse_timestamp
from engine.core.diagnostics import Diagnostic, Location, did_you_mean
from engine.core.durations import check_target, format_duration, parse_duration
from engine.core.facts import iana_zones
from engine.load import load_json
from engine.load.policies import expand, rules_dir

EXIT_FINDINGS, EXIT_INPUT, EXIT_FAILED = 1, 2, 3


class _Fail(click.exceptions.Exit):
    pass


def _report(diags: list[Diagnostic], fmt: str = "text", one_line: bool = False) -> None:
    diags = sorted(diags, key=Diagnostic.sort_key)
    if fmt == "json":
        click.echo(json.dumps([d.to_json() for d in diags], indent=2, ensure_ascii=False),
                   err=True)
        return
    for d in diags:
        click.echo(d.render(one_line), err=True)


def _fail(diags: list[Diagnostic], code: int = EXIT_INPUT, one_line: bool = False) -> None:
    _report(diags, one_line=one_line)
    raise _Fail(code)


def _option_error(code: str, option: str, message: str, hint: str | None = None) -> None:
    """A bad command-line value: one line naming the option."""
    _fail([Diagnostic(code, message, location=Location(file=option), hint=hint)], one_line=True)


def _policy(name: str):
    try:
        return load_policy(name)
    except DiagnosticError as exc:
        _fail(exc.diagnostics)


def _read_ticket(source: str) -> tuple[object, object, list[Diagnostic]]:
    """The ticket's data and document, or the problems that prevent reading it."""
    name = "<stdin>" if source == "-" else source
    try:
        if source == "-":
            text = sys.stdin.buffer.read().decode("utf-8-sig")  # strict, like files
        else:
            text = Path(source).read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return None, None, [Diagnostic("file_unreadable", f"cannot read `{name}`: "
                                       f"{reason.lower()}", location=Location(file=name))]
    doc, diags = load_json(text, name)
    if doc is None or any(d.severity == "error" for d in diags):
        return None, None, diags
    return doc.data, doc, []


def _parse_now(value: str | None, problems: list[Diagnostic]) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        problems.append(Diagnostic("bad_now", str(exc), location=Location(file="--now")))
        return None


def _decide(policy: str, ticket: str, now: str | None):
    """Load the policy, read the ticket, evaluate; every input problem is reported together."""
    cp = _policy(policy)  # without a policy the ticket cannot be checked
    problems: list[Diagnostic] = []
    moment = _parse_now(now, problems)
    data, doc, unreadable = _read_ticket(ticket)
    problems += unreadable
    if problems and doc is not None:  # an option is bad: report the ticket's problems with it
        problems += _located(doc, cp.checker.check(data)[1])
    if problems:
        _fail(problems)
    try:
        return cp, data, evaluate(cp, data, now=moment)
    except TicketError as exc:
        _fail(_located(doc, exc.diagnostics))
    except EvaluationError as exc:
        _fail([Diagnostic(exc.code, str(exc), location=Location(file=cp.policy.file),
                          rule=exc.rules[0] if exc.rules else None)], EXIT_FAILED)
    raise AssertionError("unreachable")


def _located(doc, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Ticket diagnostics (JSON pointers) placed at file:line:col in the ticket's text."""
    out = []
    for d in diagnostics:
        pointer = d.location.pointer or ""
        loc = doc.locate(pointer)
        out.append(Diagnostic(d.code, d.message, d.severity,
                              Location(loc.file, loc.line, loc.column, pointer or "/"),
                              d.rule, d.hint))
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ticket-policy")
def main() -> None:
    """Support policies as data: evaluate tickets into traced decisions."""


_policy_opt = click.option("--policy", "-p", required=True, metavar="ID|PATH",
                           help="A bundled policy id (see `policies`) or a rule file.")
_now_opt = click.option("--now", metavar="TS",
                        help="RFC 3339 instant: adds `remaining` to the SLA.")
_ticket_arg = click.argument("ticket", metavar="TICKET.json|-")


@main.command("evaluate")
@_policy_opt
@_now_opt
@_ticket_arg
def evaluate_cmd(policy: str, now: str | None, ticket: str) -> None:
    """Print the decision for one ticket as JSON."""
    _, _, decision = _decide(policy, ticket, now)
    click.echo(json.dumps(decision.to_json(), indent=2, ensure_ascii=False))


@main.command("explain")
@_policy_opt
@_now_opt
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text")
@click.option("--why-not", "why_not", metavar="RULE", help="Why RULE did not fire.")
@_ticket_arg
def explain_cmd(policy: str, now: str | None, fmt: str, why_not: str | None, ticket: str) -> None:
    """Explain a decision as a numbered story a reviewer can check."""
    from engine.explain import render as trace

    cp, data, decision = _decide(policy, ticket, now)
    if why_not:
        checked, _ = cp.checker.check(data)
        try:
            report = trace.why_not(cp, decision, why_not, checked.values)
        except KeyError:
            ids = sorted({r.id for r in cp.rules} | {r.group for r in cp.rules if r.group})
            _fail([Diagnostic("unknown_rule", f"no rule `{why_not}` in policy `{cp.id}`",
                              location=Location(file=cp.policy.file),
                              hint=did_you_mean(why_not, ids))])
        click.echo(trace.render_why_not(report, fmt), nl=False)
        return
    render = {"text": trace.render_text, "json": trace.render_json,
              "markdown": trace.render_markdown}[fmt]
    click.echo(render(decision), nl=False)


def _check_paths(paths: tuple[str, ...], lint: bool) -> tuple[list[Diagnostic], int]:
    """Every diagnostic of every policy file: load, check and compile (what evaluation would
    meet), and with lint the linter's findings on the valid ones."""
    from engine.author.lint import lint_policy

    found: list[Diagnostic] = []
    files = expand(paths, found)
    for path in files:
        model, diags = check_file(path)
        found += diags
        if model is None or any(d.severity == "error" for d in diags):
            continue
        try:
            compile_policy(model)
        except DiagnosticError as exc:
            found += exc.diagnostics
            continue
        if lint:
            found += lint_policy(model)
    return found, len(files)


def _finish(found: list[Diagnostic], files: int, fmt: str, verb: str, counted: int) -> None:
    """Report, summarise, and exit: 2 for unusable paths, 1 for findings, else 0."""
    _report(found, fmt)
    if fmt == "text":
        click.echo(f"{files} file(s) {verb}, {counted} " +
                   ("error(s)" if verb == "checked" else "finding(s)"), err=True)
    if any(d.code in ("unknown_policy", "no_policies") for d in found):
        raise _Fail(EXIT_INPUT)
    raise _Fail(EXIT_FINDINGS if counted else 0)


@main.command("validate")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
def validate_cmd(fmt: str, paths: tuple[str, ...]) -> None:
    """Check policy files: YAML hazards, schema, references. Exit 1 on any error."""
    found, files = _check_paths(paths, lint=False)
    _finish(found, files, fmt, "checked", sum(d.severity == "error" for d in found))


@main.command("lint")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
def lint_cmd(fmt: str, paths: tuple[str, ...]) -> None:
    """Static analysis: conflicts, gaps, cycles, dead rules. Exit 1 on findings."""
    found, files = _check_paths(paths, lint=True)
    _finish(found, files, fmt, "linted", len(found))


@main.command("test")
@click.option("--min-coverage", type=click.FloatRange(0, 100), metavar="PCT",
              help="Fail when a policy's rule coverage is below PCT percent.")
@click.argument("paths", nargs=-1, metavar="[PATH]...")
def test_cmd(min_coverage: float | None, paths: tuple[str, ...]) -> None:
    """Run policy test cases (default: rules/); print coverage and `N passed, N failed`."""
    from engine.author.policytest import run_cli

    raise _Fail(run_cli(list(paths) or [str(rules_dir())], min_coverage, click.echo))


def _calendar(policy: str, name: str, zone: str | None):
    cp = _policy(policy)
    calendars = cp.policy.calendars
    if name not in calendars:
        _option_error("unknown_calendar", "--calendar", f"policy `{cp.id}` has no calendar "
                      f"`{name}`", did_you_mean(name, calendars) or
                      f"calendars: {', '.join(calendars) or 'none'}")
    calendar = calendars[name]
    if zone is None:
        return calendar
    if zone not in iana_zones():
        _option_error("unknown_timezone", "--timezone", f"`{zone}` is not an IANA time zone",
                      did_you_mean(zone, iana_zones()))
    if not calendar.customer_zone:
        _option_error("fixed_timezone", "--timezone", f"calendar `{name}` runs on "
                      f"{calendar.zone.key}, not on the customer's zone",
                      "--timezone applies to calendars declared `timezone: customer`")
    return calendar.for_zone(zone)


def _instant(option: str, value: str) -> datetime:
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        _option_error("bad_timestamp", option, str(exc))


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

    cal = _calendar(policy, calendar, timezone)
    moment = _instant("--from", start)
    try:
        amount = parse_duration(within)
    except ValueError as exc:
        _option_error("bad_duration", "--within", str(exc))
    try:
        check_target(within, amount)
    except ValueError as exc:
        _option_error("bad_duration", "--within", str(exc))
    try:
        click.echo(cal.due(moment, amount).isoformat())
    except (ValueError, OverflowError) as exc:
        _option_error("calendar_exhausted", "--calendar", f"calendar `{calendar}`: {exc}")


@main.command("elapsed")
@_with_calendar_opts
@click.option("--to", "end", required=True, metavar="TS", help="RFC 3339 with offset.")
def elapsed_cmd(policy: str, calendar: str, start: str, timezone: str | None, end: str) -> None:
    """Print the open time between FROM and TO as an ISO 8601 duration (negative if TO < FROM)."""

    cal = _calendar(policy, calendar, timezone)
    since, until = _instant("--from", start), _instant("--to", end)
    try:
        opened = cal.elapsed(since, until)
    except (ValueError, OverflowError) as exc:
        _option_error("calendar_exhausted", "--calendar", f"calendar `{calendar}`: {exc}")
    click.echo(format_duration(opened, days=False))


@main.command("policies")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def policies_cmd(fmt: str) -> None:
    """List the bundled policies with version and digest."""
    rows = []
    for pid, path in bundled().items():
        cp = _policy(str(path))
        rows.append({"id": pid, "version": cp.version, "digest": cp.digest,
                     "title": cp.policy.title, "file": cp.policy.file})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    for r in rows:
        click.echo(f"{r['id']:<12} {r['version']:<12} {r['digest'][:23]}…  {r['title']}")


if __name__ == "__main__":
    main()
