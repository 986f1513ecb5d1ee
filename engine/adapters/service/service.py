"""One worker's service state: its configuration, the policy set it serves (swapped whole),
its Evaluator, its metrics and its decision log."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import dataclass

from engine.adapters.service.config import ServiceConfig, read_token
from engine.adapters.service.logs import EVENTS, log
from engine.adapters.service.metrics import Metrics
from engine.adapters.service.policyset import PolicySet, load_set
from engine.adapters.service.problems import ProblemError
from engine.adapters.service.recorder import Recorder
from engine.core.diagnostics import Diagnostic
from engine.ops.log import DecisionLog, Entry, LogError, Receipt
from engine.ops.log.query import LogReader
from engine.ops.log.sources import version_warning
from engine.run.evaluator import Evaluator
from engine.timeline.evaluator import TimelineEvaluator


@dataclass(frozen=True)
class ReloadResult:
    """A reload: the set now served, and the problems that rejected the new one (if any) or
    the warnings of the accepted one (`version_not_bumped`)."""

    accepted: bool
    policies: PolicySet | None
    diagnostics: tuple[Diagnostic, ...]
    changed: tuple[str, ...] = ()     # ids added, removed or with a new digest


class Service:
    """The state every endpoint reads. `policies` is replaced by one assignment, so a request
    sees the old set or the new one, never a mix."""

    def __init__(self, config: ServiceConfig, *, metrics: Metrics | None = None,
                 log: DecisionLog | None = None):
        self.config = config
        self.log = log                        # every decision answered 200 is in it first
        self.log_problem: Diagnostic | None = None   # why `config.log` could not be opened
        self._own_log = False
        self.recorder: Recorder | None = None
        self.logging = log is not None or config.log is not None   # log before answering
        if log is None and config.log is not None:
            self.open_log(config.log)
        if self.log is not None:
            self.recorder = Recorder(self.log)
        self.metrics = metrics or Metrics()
        self.policies: PolicySet | None = None
        self.problems: tuple[Diagnostic, ...] = ()   # why the first load failed, if it did
        self.token: bytes | None = None
        self.token_problems: list[Diagnostic] = []
        if config.admin_token_file is not None:
            self.token, self.token_problems = read_token(config.admin_token_file)
        self._evaluator: Evaluator | None = None
        self._timeline: TimelineEvaluator | None = None
        self._reloading: asyncio.Lock | None = None
        self._tasks: set[asyncio.Task] = set()

    def open_log(self, path: str) -> None:
        """Open this worker's writer connection to the decision log (one per process: SQLite's
        write lock orders the workers' commits). A log that cannot be opened leaves the service
        up, answering 503 with the reason wherever a decision would be logged."""
        # a commit waits for the lock at most half the request timeout, then fails (503)
        busy = max(0.1, self.config.request_timeout / 2)
        try:
            self.log, self._own_log = DecisionLog.open(path, busy_timeout=busy), True
        except LogError as exc:
            self.log_problem = exc.diagnostic
            log(EVENTS, "decision log unavailable", level=40, diagnostic=exc.diagnostic.to_json())

    async def record(self, entries: list[Entry]) -> list[Receipt]:
        """Log `entries` in one transaction with the records of every request waiting, off the
        event loop (requests arriving meanwhile are evaluated, and join the next group);
        returns once durable. ProblemError 503 when the log cannot be written: nothing of it
        is then visible."""
        if self.recorder is None:
            if not self.logging:
                return []
            raise unlogged(self.log_problem or Diagnostic(
                "log_closed", "the decision log is closed: the service is stopping",
                hint="retry the request"))
        try:
            receipts = await self.recorder.append(entries)
        except LogError as exc:
            log(EVENTS, "decision log write failed", level=40,
                diagnostic=exc.diagnostic.to_json())
            raise unlogged(exc.diagnostic) from None
        for warning in {w for r in receipts for w in r.warnings}:
            log(EVENTS, "decision log warning", level=30, diagnostic=warning.to_json())
        return receipts

    def close(self) -> None:
        """Commit the records waiting, and release the decision log this service opened."""
        if self.recorder is not None:
            self.recorder.close()
            self.recorder = None
        if self._own_log and self.log is not None:
            self.log.close()
            self.log, self._own_log = None, False

    @property
    def ready(self) -> bool:
        return self.policies is not None

    @property
    def evaluator(self) -> Evaluator:
        """This worker's Evaluator, built by the thread that serves requests (the event loop's:
        evaluations run there, one at a time, so durable_rules only ever sees that thread)."""
        if self._evaluator is None:
            self._evaluator = Evaluator(thread="caller")
        return self._evaluator

    @property
    def timeline(self) -> TimelineEvaluator:
        """This worker's TimelineEvaluator over its Evaluator (follows tickets' events)."""
        if self._timeline is None:
            self._timeline = TimelineEvaluator(self.evaluator)
        return self._timeline

    def load(self) -> ReloadResult:
        """Compile the configured policies; swap them in only if every one is valid."""
        try:
            new, diags = load_set(self.config.policies)
        except Exception:  # noqa: BLE001 - a fault of ours: reject the set, keep serving
            EVENTS.exception("policy set failed to load")
            new, diags = None, (Diagnostic("internal_error", "the policy set failed to load; "
                                           "see the service's log"),)
        old = self.policies
        if new is None:
            self.metrics.reloads.labels("rejected").inc()
            if old is None:
                self.problems = diags
            log(EVENTS, "policy set rejected", level=40, diagnostics=[d.to_json() for d in diags],
                serving=old.digest if old else None)
            return ReloadResult(False, old, diags)
        before = old.digests() if old else {}
        after = new.digests()
        changed = tuple(sorted({k[0] for k in before.keys() | after.keys()
                                if before.get(k) != after.get(k)}))
        warnings = self._not_bumped(before, after)
        self.policies, self.problems = new, ()
        self.metrics.reloads.labels("accepted").inc()
        log(EVENTS, "policy set loaded", digest=new.digest, changed=list(changed),
            policies={k: s.policy.digest for k, s in new.by_id.items()})
        for warning in warnings:
            log(EVENTS, "policy version not bumped", level=30, diagnostic=warning.to_json())
        return ReloadResult(True, new, warnings, changed)

    def _not_bumped(self, before: dict[tuple[str, str], str],
                    after: dict[tuple[str, str], str]) -> tuple[Diagnostic, ...]:
        """`version_not_bumped` for each served (id, version) whose digest differs from the one
        served before this load, or from one the decision log holds decisions of."""
        known: dict[tuple[str, str], list[str]] = {}
        if self.config.log is not None and self.log_problem is None:
            try:
                with LogReader(self.config.log) as reader:
                    known = reader.known_digests()
            except LogError:
                known = {}   # the writer reports an unusable log where it matters
        out = []
        for key, digest in sorted(after.items()):
            others = {d for d in [before.get(key), *known.get(key, [])] if d and d != digest}
            if others:
                out.append(version_warning(*key, digest, sorted(others)))
        return tuple(out)

    async def reload(self) -> ReloadResult:
        """`load` off the event loop (compiling takes tens of ms per policy), one at a time."""
        if self._reloading is None:
            self._reloading = asyncio.Lock()
        async with self._reloading:
            return await asyncio.to_thread(self.load)

    def signal_workers(self) -> bool:
        """After an admin reload: ask the supervisor to have every worker reload (SIGHUP)."""
        pid = self.config.supervisor_pid
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGHUP)
        except OSError:
            return False
        return True

    async def start(self) -> None:
        """At worker start-up (the lifespan, inside the event loop): compile the policies before
        the worker accepts connections (the other workers answer meanwhile), and reload on
        SIGHUP. A set that fails here leaves the worker up but not ready (503) until a reload
        succeeds: failing start-up would stop the whole server."""
        loop = asyncio.get_running_loop()
        if self.config.handle_signals:
            loop.add_signal_handler(signal.SIGHUP, self._on_sighup)
        await self.reload()

    def _on_sighup(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload())
        self._tasks.add(task)   # the loop keeps only weak references to tasks
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        if self.config.handle_signals:
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        self.close()


def unlogged(diagnostic: Diagnostic) -> ProblemError:
    return ProblemError(503, [diagnostic], title="the decision log cannot be written; the "
                        "decision is not given", headers={"Retry-After": "1"})
