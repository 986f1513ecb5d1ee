"""A progress bar on stderr for the long log commands (`log verify`, `log checkpoint`,
`replay`): shown when stderr is a terminal, or as `--progress/--no-progress`
(`options.progress_opt`) say."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

from engine.ops.log import LogError
from engine.ops.log import chain as log_chain


@contextmanager
def progress_bar(show: bool | None, desc: str, total: int | None
                 ) -> Iterator[Callable[[int], None] | None]:
    """A tqdm bar of `total` records (None: unknown) and the callback that moves it to a count
    of records done; None, and no bar, unless `show` (None: stderr is a terminal)."""
    if not (show if show is not None else sys.stderr.isatty()):
        yield None
        return
    from tqdm import tqdm  # type: ignore[import-untyped]

    bar = tqdm(total=total, unit=" records", unit_scale=True, file=sys.stderr, desc=desc,
               dynamic_ncols=True)

    def to(done: int) -> None:
        bar.update(done - bar.n)

    try:
        yield to
    finally:
        bar.close()


def log_progress(show: bool | None, desc: str, path: str | os.PathLike, counted: bool = True
                 ) -> AbstractContextManager[Callable[[int], None] | None]:
    """`progress_bar` over the log at `path`: of its records (`counted`; else a counter), and
    none when the log cannot be read — the command that follows says why."""
    try:
        total = log_chain.head(path)[0]
    except (LogError, sqlite3.Error):   # no log, or a damaged one
        return progress_bar(False, desc, None)
    return progress_bar(show, desc, total if counted else None)
