"""The durable_rules host the adapter drives, and how its failures and threads are read."""

from __future__ import annotations

import re
import sys
import threading

import durable_rules_engine
from durable import engine

from engine.run.errors import EngineFailure


class SyncHost(engine.Host):
    """A Host without the dispatch/timer threads, which race with delete_state."""

    def _run(self) -> None:
        pass

    def forget(self, name: str) -> None:
        """Unregister a ruleset and free it (no evaluation may be using it)."""
        ruleset = self._ruleset_directory.pop(name)
        self._ruleset_list.remove(ruleset)
        durable_rules_engine.delete_ruleset(ruleset._handle)


def exited(owner: threading.Thread, me: threading.Thread) -> bool:
    """Whether `owner` has exited. A thread not started by `threading` (a C extension's, or
    `_thread.start_new_thread`) is a dummy that always reports itself alive: it has exited
    when the interpreter no longer has its thread state, or its id is reused by `me`."""
    if not owner.is_alive():
        return True
    return owner.ident == me.ident or owner.ident not in sys._current_frames()


def engine_failure(what: str, exc: BaseException) -> EngineFailure:
    """An engine exception as an EngineFailure carrying the engine's error code, if any."""
    found = re.search(r"error code: (\d+)", str(exc))
    code = int(found.group(1)) if found else None
    detail = str(exc) or type(exc).__name__
    if code is not None:
        return EngineFailure(f"{what}: engine error {code} ({detail[:1].lower()}{detail[1:]})",
                             engine_code=code)
    return EngineFailure(f"{what}: {type(exc).__name__}: {detail}")
