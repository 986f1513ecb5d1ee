"""glibc's malloc told to keep chunk-sized buffers in the heap of a process that decides batch
chunks, instead of mapping and unmapping them for every chunk.

A chunk's output (~7.6 MB of cloudtalk records), its pickled log records (~3 MB) and their
joins are bigger than glibc's mmap threshold at first, and its heap is trimmed as soon as
128 KiB lie free at its top: each chunk's buffers were then faulted in page by page and given
back again. A batch worker with `--log` spent 2.7-2.9 s of system CPU on 400,000 cloudtalk
lines, 0.33-0.41 s with the thresholds below (wall 17.6-20.8 -> 15.8-17.4 s, in turns on this
project's machine, 2026-12-03). A worker's memory stays bounded by the chunks it holds.
"""

from __future__ import annotations

import ctypes
import sys

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 64 << 20    # buffers below this come from the heap (glibc's maximum is 32 MiB
                             # on its own dynamic rule; set here, it is taken as given)
TRIM_THRESHOLD = 256 << 20   # the heap is given back only beyond this much free at its top
_done = False


def keep_buffers() -> bool:
    """Set the thresholds in this process, once (glibc only; elsewhere nothing happens).
    Whether they were set."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):   # not glibc (or no libc to ask)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    _done = bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
    return _done
