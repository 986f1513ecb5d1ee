"""Options and arguments several commands share."""

from __future__ import annotations

import click

from engine import app

policy_opt = click.option("--policy", "-p", required=True, metavar="ID|PATH[@VERSION]",
                          help="A bundled policy id (see `policies`), a policy folder or a rule "
                          "file; @VERSION names one of its versions (default: the version in "
                          "force at the ticket's submitted_at).")
now_opt = click.option("--now", metavar="TS",
                       help="RFC 3339 instant the clocks are read at (default: the last event); "
                       "adds `remaining` to the SLA.")
at_opt = click.option("--at", metavar="TS",
                      help="RFC 3339: the decision as it stood then (later events and a later "
                      "first response left out).")
ticket_arg = click.argument("ticket", metavar="TICKET.json|-")
mapping_opt = click.option("--mapping", "-m", metavar="ID|PATH",
                           help="The input is a helpdesk payload: map it with a bundled mapping "
                           "(zendesk, jira) or a mapping file.")
strict_opt = click.option("--strict", is_flag=True,
                          help="A key that looks like a misspelt fact is an error (exit 2).")
error_format_opt = click.option("--error-format", type=click.Choice(["text", "json"]),
                                default="text", help="How problems are printed on stderr.")


def inputs(fn):
    for opt in reversed((mapping_opt, strict_opt, error_format_opt)):
        fn = opt(fn)
    return fn


max_bytes_opt = click.option(
    "--max-ticket-bytes", type=click.IntRange(min=1), default=app.MAX_TICKET_BYTES,
    show_default=True, metavar="N", help="Reject larger tickets before parsing them (exit 2).")


format_opt = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
log_arg = click.argument("log_path", metavar="LOG")
progress_opt = click.option("--progress/--no-progress", default=None,
                            help="Progress bar on stderr (default: when stderr is a terminal).")
