"""Run stage: the only module that calls durable_rules (the adapter every Evaluator owns).

- A Host without the stock background threads (they race with delete_state). durable_rules is
  not thread-safe: each adapter is driven by one thread — the thread that built it, or a
  dedicated engine thread — and adapters of one process take turns through a process lock.
- One session per ticket, with a counter sid, deleted in `finally`; a sentinel rule guarantees
  an action ran in every session (durable_rules segfaults deleting one that had none).
- Actions are Python closures that record the trace; exceptions in them are collected and raised
  to the caller (the engine would swallow them) — a KeyboardInterrupt or SystemExit too, once the
  engine returns; a firing bound stops cycles and names them.
- After a MemoryError or an engine error the Host is discarded and rebuilt on next use.
"""

from __future__ import annotations

import itertools
import re
import sys
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import durable_rules_engine
from durable import engine

from engine.check.tickets import Ticket
from engine.compile.compiler import CompiledPolicy, CompiledRule
from engine.core.decision import Outcome
from engine.core.model import (
    NoGuarantee,
    SetPriority,
    UsePlan,
)
from engine.run.errors import (
    EngineFailure,
    EngineThreadError,
    RuleActionError,
)
from engine.run.working import Working


class _SyncHost(engine.Host):
    """A Host without the dispatch/timer threads, which race with delete_state."""

    def _run(self) -> None:
        pass

    def forget(self, name: str) -> None:
        """Unregister a ruleset and free it (no evaluation may be using it)."""
        ruleset = self._ruleset_directory.pop(name)
        self._ruleset_list.remove(ruleset)
        durable_rules_engine.delete_ruleset(ruleset._handle)


def _exited(owner: threading.Thread, me: threading.Thread) -> bool:
    """Whether `owner` has exited. A thread not started by `threading` (a C extension's, or
    `_thread.start_new_thread`) is a dummy that always reports itself alive: it has exited
    when the interpreter no longer has its thread state, or its id is reused by `me`."""
    if not owner.is_alive():
        return True
    return owner.ident == me.ident or owner.ident not in sys._current_frames()


ThreadMode = Literal["caller", "dedicated"]
MAX_RULESETS = 64  # registered per adapter (~55 KB each; a process has 131,072 handles)
# durable_rules is not thread-safe across the whole process: adapters on different threads (two
# Evaluators) take turns through this lock.
_PROCESS_LOCK = threading.RLock()


class EngineAdapter:
    """A durable_rules host and the one thread allowed to drive it.

    `thread="caller"`: the thread that built the adapter owns it (no hand-off cost); calls from
    another live thread raise EngineThreadError; when the owner has exited, the next caller
    takes over. `thread="dedicated"`: every call is handed to one engine thread (~40 µs).
    """

    def __init__(self, thread: ThreadMode = "caller") -> None:
        if thread not in ("caller", "dedicated"):
            raise ValueError(f"thread mode `{thread}` is not `caller` or `dedicated`")
        self.mode = thread
        self.host: _SyncHost | None = None
        self.registered: OrderedDict[str, None] = OrderedDict()  # ruleset names, LRU order
        self.sids = itertools.count(1)
        self.current: Working | None = None
        self.executor: ThreadPoolExecutor | None = None
        self.owner: threading.Thread = threading.current_thread()
        self.lock = threading.Lock()
        if thread == "dedicated":
            self.executor = ThreadPoolExecutor(1, thread_name_prefix="durable-rules")
            self.owner = self.executor.submit(threading.current_thread).result()

    def close(self) -> None:
        """Free the rulesets and stop the engine thread (if any)."""
        if self.executor is not None:
            self.executor.submit(self._drop_host).result()
            self.executor.shutdown()
            self.executor = None
        elif threading.current_thread() is self.owner or _exited(self.owner,
                                                                   threading.current_thread()):
            self._drop_host()

    def _action(self, cr: CompiledRule | None):
        if cr is None:
            return _noop

        def action(c) -> None:
            ev = self.current
            if ev is not None and ev.interrupt is None:
                try:
                    ev.fire(cr, c)
                except Exception as exc:  # never into the engine, which would swallow it
                    ev.errors.append((cr.name.rsplit("#", 1)[0], exc))
                except BaseException as exc:  # noqa: BLE001 — Ctrl-C, SystemExit: re-raised
                    ev.interrupt = exc        # once the engine returns (it would swallow them)
        return action

    def _ensure(self, cp: CompiledPolicy, name: str, actions) -> _SyncHost:
        """The host, with `cp`'s ruleset registered under `name`, actions bound by `actions`."""
        if self.host is None:
            self.host = _SyncHost()
            self.registered = OrderedDict()
        if name in self.registered:
            self.registered.move_to_end(name)
        else:
            if len(self.registered) >= MAX_RULESETS:  # least recently used first
                self.host.forget(self.registered.popitem(last=False)[0])
            self.host.register_rulesets({name: cp.ruleset(actions)[cp.ruleset_name]})
            self.registered[name] = None
        return self.host

    def _drop_host(self) -> None:
        """Discard a host the engine may have corrupted, freeing what can be freed (durable_rules
        cannot free a half-built session: ~1 MB stays; compile-time limits keep this rare)."""
        host, self.host = self.host, None
        if host is None:
            return
        for name in self.registered:
            try:
                durable_rules_engine.delete_ruleset(host.get_ruleset(name)._handle)
            except Exception:  # noqa: BLE001 - best effort on a broken host
                pass
        self.registered = OrderedDict()

    def call(self, fn, *args):
        """Run fn on the engine's thread, one engine call at a time in the process."""
        me = threading.current_thread()
        if me is not self.owner:
            if self.executor is not None:
                return self.executor.submit(self.call, fn, *args).result()
            with self.lock:
                if self.owner is not me and _exited(self.owner, me):
                    self.owner = me  # the owner exited: nothing can be using the engine
            if me is not self.owner:
                raise EngineThreadError(
                    f"durable_rules is not thread-safe: this evaluator's engine runs on thread "
                    f"`{self.owner.name}`; evaluate from that thread, or build the evaluator "
                    "with `Evaluator(thread=\"dedicated\")` to route all threads through one "
                    "engine thread")
        with _PROCESS_LOCK:
            return fn(*args)

    def run(self, cp: CompiledPolicy, ticket: Ticket) -> Outcome:
        return self.call(self._run, cp, ticket)

    def _run(self, cp: CompiledPolicy, ticket: Ticket) -> Outcome:
        try:
            host = self._ensure(cp, cp.ruleset_name, self._action)
        except Exception as exc:  # the compile stage's limits should have caught it
            self._drop_host()
            raise _engine_failure(f"durable_rules could not build policy `{cp.id}`", exc) \
                from exc
        sid = f"s{next(self.sids)}"
        ev = Working(cp, ticket, _swap)
        self.current = ev
        try:
            host.assert_facts(cp.ruleset_name, ev.initial_facts(sid))
        except Exception as exc:
            # MemoryError, an engine error or a rejected fact: the session may be half-built or
            # have run no action, and touching it can segfault. Drop the host; rebuild on next use.
            self._drop_host()
            raise _engine_failure(f"durable_rules failed on ticket `{ticket.id}`", exc) from exc
        finally:
            self.current = None
        try:
            host.delete_state(cp.ruleset_name, sid)
        except durable_rules_engine.error:
            pass
        if ev.interrupt is not None:
            raise ev.interrupt
        if ev.failure is not None:
            raise ev.failure
        if ev.errors:
            rule, error = ev.errors[0]
            raise RuleActionError(f"rule `{rule}` failed: {type(error).__name__}: {error}",
                                  tuple(r for r, _ in ev.errors)) from error
        return ev.outcome()

    def run_bare(self, cp: CompiledPolicy, tickets: list[Ticket]) -> list[float]:
        """The benchmark's baseline: the same ruleset and firings, with actions that only make
        the working-memory changes (no trace, no guards beyond fire-once, no decision).
        Returns seconds per ticket."""
        return self.call(self._run_bare, cp, tickets)

    def _run_bare(self, cp: CompiledPolicy, tickets: list[Ticket]) -> list[float]:
        def bare(cr: CompiledRule | None):
            if cr is None:
                return _noop
            rule = cp.rules[cr.rule_index]

            def action(c) -> None:
                ev = self.current
                if ev is None or rule.id in ev.fired:
                    return
                ev.fired.add(rule.id)
                for a in rule.actions:
                    match a:
                        case SetPriority(level=level):
                            ev.set_priority(c, ev.resolve_level(level))
                        case UsePlan(plan=plan):
                            ev.plan = plan
                            ev.set_entitlement(c)
                        case NoGuarantee():
                            ev.guaranteed = False
                            ev.set_entitlement(c)
            return action

        name = cp.ruleset_name + "#bare"
        host = self._ensure(cp, name, bare)
        timings = []
        clock = time.perf_counter
        for ticket in tickets:
            start = clock()
            sid = f"s{next(self.sids)}"
            ev = Working(cp, ticket, _swap)
            self.current = ev
            host.assert_facts(name, ev.initial_facts(sid))
            host.delete_state(name, sid)
            timings.append(clock() - start)
        self.current = None
        return timings


def _noop(c) -> None:
    return None


def _engine_failure(what: str, exc: BaseException) -> EngineFailure:
    """An engine exception as an EngineFailure carrying the engine's error code, if any."""
    found = re.search(r"error code: (\d+)", str(exc))
    code = int(found.group(1)) if found else None
    detail = str(exc) or type(exc).__name__
    if code is not None:
        return EngineFailure(f"{what}: engine error {code} ({detail[:1].lower()}{detail[1:]})",
                             engine_code=code)
    return EngineFailure(f"{what}: {type(exc).__name__}: {detail}")


def _swap(c, old: dict | None, new: dict) -> None:
    """Replace a derived fact in the session of action context `c`: retract, then assert (which
    cancels stale activations and triggers the rules that read the new value)."""
    if old is not None:
        c.retract_fact(old)
    c.assert_fact(new)
