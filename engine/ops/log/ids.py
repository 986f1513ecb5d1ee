"""Decision ids: UUIDv7 (RFC 9562), time-ordered, from the standard library."""

from __future__ import annotations

import random
import threading
import time
import uuid

_lock = threading.Lock()
# Not for secrets: ids need to be unique, not unguessable. `random` is seeded from the OS at start
# and again in a forked child, so processes never share a sequence.
_random = random.getrandbits
_last = [0, 0]  # last millisecond, last 12-bit counter: ids of one process strictly increase


def uuid7(now_ns: int | None = None) -> str:
    """A UUIDv7 string: 48 bits of Unix milliseconds, version 7, a 12-bit counter seeded at
    random each millisecond (monotonic within the process), variant 10, 62 random bits."""
    ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
    with _lock:
        if ms <= _last[0]:
            ms = _last[0]
            counter = _last[1] + 1
            if counter > 0xFFF:   # 4,096 ids in one millisecond: borrow the next one
                ms, counter = ms + 1, _random(11)
        else:
            counter = _random(11)
        _last[0], _last[1] = ms, counter
    value = ((ms & ((1 << 48) - 1)) << 80) | (0x7 << 76) | (counter << 64) | (0b10 << 62) | \
        _random(62)
    h = value.to_bytes(16, "big").hex()
    return "-".join((h[:8], h[8:12], h[12:16], h[16:20], h[20:]))


def uuid7_time_ms(text: str) -> int:
    """The Unix milliseconds a UUIDv7 carries."""
    return uuid.UUID(text).int >> 80
