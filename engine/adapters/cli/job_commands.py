"""`serve`, `batch`, `report` and `diff`: the commands that run a service or a job over many
tickets (their adapters are imported when the command runs)."""

from __future__ import annotations

from pathlib import Path

import click

from engine import app
from engine.adapters.cli.options import now_opt, policy_opt, progress_opt
from engine.adapters.cli.output import (
    EXIT_BY_STATUS,
    EXIT_FAILED,
    EXIT_FINDINGS,
    EXIT_INPUT,
    Fail,
    bad_option,
    report_problems,
    write_report,
)


@click.command("serve")
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
    report_problems([*problems, *diags])
    if problems or policies is None:
        raise Fail(EXIT_INPUT)
    if check:
        click.echo(f"ok: {len(policies.by_id)} policies ({', '.join(policies.by_id)}), "
                   f"set {policies.digest[:23]}…", err=True)
        return
    failed = server.run(config)
    if failed:
        report_problems(failed)
        raise Fail(EXIT_INPUT)


@click.command("batch")
@policy_opt
@click.option("--mapping", metavar="M", help="Read each line as a helpdesk payload mapped by M.")
@now_opt
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
@progress_opt
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
        raise Fail(130) from None
    if not done.ok:   # a bad option or file: one line each (a policy's problems are not)
        report_problems(done.diagnostics, one_line=done.status == app.Status.INPUT_ERROR)
        raise Fail(EXIT_BY_STATUS[done.status])
    report_problems(done.diagnostics)   # warnings, e.g. the log's version_not_bumped
    r = done.result
    if summary and r.summary is not None:
        click.echo(r.summary.render(summary_format), nl=False, err=output in (None, "-"))
    click.echo(f"{r.decided} decided, {r.rejected} rejected, {done.seconds:.1f} s", err=True)
    raise Fail(EXIT_FINDINGS if r.rejected else 0)


@click.command("report")
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text")
@click.argument("paths", nargs=-1, required=True, metavar="OUT.jsonl...")
def report_cmd(fmt: str, paths: tuple[str, ...]) -> None:
    """Summarise batch output (JSON lines, `.gz` too, several files or `-`): decisions by
    priority, reclassifications by rule, SLA by plan and priority, no-guarantee reasons.

    Exit 2 (diagnostics on stderr, nothing on stdout) when a file is unreadable or holds a
    line that is not a batch record, e.g. batch's CSV output."""
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
    report_problems(problems, one_line=True)
    if problems:   # exit 2: diagnostics only, no summary of part of the input
        raise Fail(EXIT_INPUT)
    click.echo(total.render(fmt), nl=False)


@click.command("diff")
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
    CORPUS or --log, over those tickets. Exit 0 no decision changes, 1 changes, 2 bad input
    or an -o that cannot be written (the report is written whole or not at all), 3 a batch
    worker failed."""
    import tempfile

    from engine.ops.diff import render as render_diff

    if corpus is not None and log_path is not None:
        raise bad_option("--log", "give a CORPUS or `--log LOG`, not both")
    if (workers is not None or dask is not None) and corpus is None and log_path is None:
        raise bad_option("--workers", "--workers and --dask decide a corpus: give CORPUS.jsonl "
                          "or --log LOG")
    with tempfile.TemporaryDirectory(prefix="tp-diff-") as tmp:
        decide = None if workers is None and dask is None else \
            _batch_decider(Path(tmp), workers, dask)
        result = app.diff(old, new, corpus, decide=decide, log=log_path)
    if result.diff is None:
        report_problems(result.diagnostics)
        raise Fail(EXIT_FAILED if result.status == "failed" else EXIT_INPUT)
    report = render_diff(result.diff, fmt)
    if output:
        write_report(output, report)
    else:
        click.echo(report, nl=False)
    if result.diff.decisions_change:
        raise Fail(EXIT_FINDINGS)


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
