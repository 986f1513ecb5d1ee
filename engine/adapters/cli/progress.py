"""A progress bar on stderr for the long log commands (`log verify`, `log checkpoint`,
`replay`): shown when stderr is a terminal, or as `--progress/--no-progress` say."""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from engine.ops.log import LogError
from engine.ops.log import chain as log_chain

progress_opt = click.option("--progress/--no-progress", default=None,
                            help="Progress bar on stderr (default: when stderr is a terminal).")


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


def records_in(path: str | os.PathLike) -> int | None:
    """How many records the log at `path` holds (its last seq), None if that cannot be read
    (no bar then: the command that follows reports why)."""
    try:
        return log_chain.head(path)[0]
    except (LogError, sqlite3.Error):   # no log, or a damaged one: verify says how
        return None
