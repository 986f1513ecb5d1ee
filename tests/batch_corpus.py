"""Ticket corpora for batch tests and benchmarks: realistic tickets, and a golden mix of valid,
invalid and hostile lines. Deterministic: the same seed gives the same bytes.

    python tests/batch_corpus.py            # rewrite tests/golden/batch/<policy>.jsonl

Realistic tickets are the benchmark's (benchmarks/bench_evaluate.py: Zipf-distributed facts,
random submission times and zones), half of them with a first response 0–48 h later.
"""

from __future__ import annotations

import json
import random
import sys
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "benchmarks"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from bench_evaluate import generate  # noqa: E402

GOLDEN = ROOT / "tests" / "golden" / "batch"
GOLDEN_LINES = 1000
GOLDEN_NOW = "2027-01-15T12:00:00+00:00"  # after every submission and first response


def tickets(cp, n: int, seed: int = 1) -> list[dict]:
    """`n` realistic tickets for the compiled policy `cp`."""
    rnd = random.Random(seed)
    out = generate(cp, n, rnd)
    for t in out:
        if rnd.random() < 0.5:
            start = datetime.fromisoformat(t["submitted_at"])
            t["first_response_at"] = (start + timedelta(minutes=rnd.randrange(48 * 60))
                                      ).isoformat()
    return out


def lines(cp, n: int, seed: int = 1) -> list[bytes]:
    """Realistic tickets as JSON lines (no newline)."""
    return [json.dumps(t, ensure_ascii=False).encode("utf-8") for t in tickets(cp, n, seed)]


def _invalid(cp, rnd: random.Random, base: dict) -> dict:
    """A ticket that parses but breaks the fact schema, one way or several."""
    t = json.loads(json.dumps(base))
    kind = rnd.randrange(9)
    if kind == 0:
        t["plan"] = "platinum-" + str(rnd.randrange(99))
    elif kind == 1:
        t["submitted_at"] = "2026-13-45T25:61:00+01:00"
    elif kind == 2:
        t["submitted_at"] = t["submitted_at"][:19]          # no offset
    elif kind == 3:
        del t["id"]
    elif kind == 4:
        t["requested_priority"] = "P" + str(rnd.randrange(7, 99))
    elif kind == 5:
        t["customer"] = {"timezone": "Mars/Olympus_Mons", "segment": "vip"}
    elif kind == 6:
        t["id"] = rnd.randrange(10**6)
    elif kind == 7:
        t["environment"] = ["production"]
        t["unknown_fact"] = True
    else:
        t["first_response_at"] = "yesterday"
        t["channel"] = "pigeon"
    return t


def _hostile(rnd: random.Random, base: dict, i: int) -> bytes:
    """A line that should never crash anything."""
    text = json.dumps(base)
    kind = i % 24
    return [
        lambda: b"not json at all",
        lambda: text[: rnd.randrange(1, len(text) - 1)].encode(),      # truncated
        lambda: b"",
        lambda: b"   \t ",
        lambda: text.replace('"id"', '"id": "dup", "id"', 1).encode(),   # duplicate key
        lambda: text.replace("}", ', "seats": NaN}', 1).encode(),
        lambda: text.replace("}", ', "seats": 1e400}', 1).encode(),
        lambda: text.replace("}", f', "seats": {2**70}}}', 1).encode(),
        lambda: ("[" * 250 + "]" * 250).encode(),                         # too deep
        lambda: ("[" * 199 + "]" * 199).encode(),                         # deep, legal JSON
        lambda: text.replace('"B-', '"\\ud800B-', 1).encode(),            # lone surrogate
        lambda: text.encode().replace(b'"B-', b'"\xff\xfeB-', 1),         # invalid utf-8
        lambda: b"\xef\xbb\xbf" + text.encode(),                          # a BOM
        lambda: b"[1, 2, 3]",
        lambda: b'"just a string"',
        lambda: b"null",
        lambda: text.replace('"B-', '"x' * 3000 + 'B-', 1).encode(),     # a long id
        lambda: text.replace('"B-', '"line\\nbreak, \\"quoted\\" B-', 1).encode(),
        lambda: text.replace('"B-', '"\\u0000nul B-', 1).encode(),
        lambda: (text[:-1] + ', "x": ' + "{" * 30 + "}" * 30 + "}").encode(),
        lambda: text.encode() + b"\r",                                    # CRLF line
        lambda: text.replace(": ", " : ").encode(),                       # spaced colons
        lambda: text.replace('"B-', '"caf\\u00e9 \\u2028 B-', 1).encode(),
        lambda: (text[:-1] + ', "id": "second"}').encode(),             # duplicate at end
    ][kind]()


def golden_corpus(cp, n: int = GOLDEN_LINES, seed: int = 7) -> list[bytes]:
    """`n` lines: ~85% realistic tickets, ~10% invalid tickets, ~5% hostile lines."""
    rnd = random.Random(seed)
    good = tickets(cp, n, seed)
    out, hostile = [], 0
    for t in good:
        roll = rnd.random()
        if roll < 0.05:
            out.append(_hostile(rnd, t, hostile))
            hostile += 1
        elif roll < 0.15:
            out.append(json.dumps(_invalid(cp, rnd, t)).encode())
        else:
            out.append(json.dumps(t, ensure_ascii=False).encode("utf-8"))
    return out


def main() -> None:
    from engine import bundled, load_policy

    GOLDEN.mkdir(parents=True, exist_ok=True)
    for pid in bundled():
        data = b"".join(line + b"\n" for line in golden_corpus(load_policy(pid)))
        path = GOLDEN / f"{pid}.jsonl"
        path.write_bytes(data)
        print("wrote", path.relative_to(ROOT), len(data), "bytes")


if __name__ == "__main__":
    main()
