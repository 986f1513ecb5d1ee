"""The one canonical JSON form (sorted keys, no whitespace, UTF-8) and digests of it.

Importable without the rules engine; what decisions, logs and digests are written in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import orjson

_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False)   # built once: json.dumps builds one per call


def canonical_json(value: object) -> str:
    """The one canonical JSON form: sorted keys, no whitespace, UTF-8 text (not escaped)."""
    return _CANONICAL.encode(value)


def sha256_of(value: object) -> str:
    """`sha256:<hex>` of the canonical JSON of `value`."""
    return "sha256:" + hashlib.sha256(canonical_bytes(value)).hexdigest()


_msgspec_sorted = msgspec.json.Encoder(order="sorted").encode
_PLAIN = frozenset({str, bool, int, type(None)})


def canonical_bytes(value: object) -> bytes:
    """`canonical_json(value)` as UTF-8 bytes. JSON data without floats takes msgspec, which
    writes exactly those bytes (it spells some floats otherwise: `1e16` for `1e+16`)."""
    if _plain(value, 0):
        return _msgspec_sorted(value)
    return canonical_json(value).encode("utf-8")


def projected_bytes(paths: tuple[str, ...], values: dict) -> bytes:
    """`canonical_bytes({p: v for p in paths if (v := values.get(p)) is not None})`, written
    without building that dict when no value holds a float: a msgspec Struct per `paths`
    (fields in sorted order, each renamed to its path, null ones omitted) takes the values
    positionally."""
    last = _last_projection
    found = last[1] if last[0] is paths else _projection(paths)
    order, get, struct = found
    try:
        vals = get(values)
    except KeyError:
        vals = tuple(map(values.get, order))
    if _SCALARS.issuperset(map(type, vals)) or all(
            v.__class__ in _SCALARS or _plain(v, 1) for v in vals):  # no float anywhere
        return _msgspec_sorted(struct(*vals))
    return canonical_json({p: v for p in paths if (v := values.get(p)) is not None}
                          ).encode("utf-8")


_SCALARS = frozenset({str, bool, int, type(None)})
_Projection = tuple[tuple[str, ...], Callable[[dict], tuple], type]
_projections: dict[tuple[str, ...], _Projection] = {}
_last_projection: tuple[object, _Projection]   # (paths, theirs): the last asked for


def _projection(paths: tuple[str, ...]) -> _Projection:
    global _last_projection
    found = _projections.get(paths)
    if found is None:
        order = tuple(sorted(set(paths)))
        get = itemgetter(*order) if len(order) > 1 else (lambda d: tuple(map(d.__getitem__, order)))
        struct = msgspec.defstruct("Facts", [(f"f{i}", Any, None) for i in range(len(order))],
                                   omit_defaults=True,
                                   rename={f"f{i}": p for i, p in enumerate(order)})
        if len(_projections) >= 256:
            _projections.clear()
        found = _projections[paths] = (order, get, struct)
    _last_projection = (paths, found)
    return found


_projection(())   # seeds `_last_projection`


def plain_bytes(value: object) -> bytes:
    """`canonical_bytes(value)` for data known to hold no float (strings, booleans, integers,
    null, lists and string-keyed objects of them): written without checking it."""
    return _msgspec_sorted(value)


def _plain(value: object, depth: int) -> bool:
    """Strings, booleans, integers, null, and lists and string-keyed objects of them."""
    kind = value.__class__
    if kind is dict:
        if depth > 16:
            return False
        for k, v in value.items():  # type: ignore[attr-defined]
            if k.__class__ is not str:
                return False
            if v.__class__ not in _PLAIN and not _plain(v, depth + 1):
                return False
        return True
    if kind is list:
        if depth > 16:
            return False
        for v in value:  # type: ignore[attr-defined]
            if v.__class__ not in _PLAIN and not _plain(v, depth + 1):
                return False
        return True
    return kind in _PLAIN


_orjson_dumps = orjson.dumps


def instant_json(moment: datetime) -> bytes:
    """`canonical_bytes(moment.isoformat())` (the JSON string, quotes included), written by
    orjson, ~8x faster than `isoformat` here. orjson rounds an offset to whole minutes where
    `isoformat` writes its seconds (local mean time before ~1900, Monrovia until 1972): such an
    offset, and a tzinfo orjson does not know, take `isoformat`. An IANA zone's offsets are
    whole minutes since 1972 (Monrovia's -0:44:30 ended in January 1972; a test checks every
    installed zone): a later instant in one skips the check."""
    tz = moment.tzinfo
    if tz is not UTC and tz is not None and (tz.__class__ is not ZoneInfo
                                             or moment.year < 1973):
        offset = moment.utcoffset()
        if offset is not None and (offset.seconds % 60 or offset.microseconds):
            return b'"' + moment.isoformat().encode() + b'"'
    try:
        return _orjson_dumps(moment)
    except orjson.JSONEncodeError:
        return b'"' + moment.isoformat().encode() + b'"'


def instant_text(moment: datetime) -> str:
    """`moment.isoformat()`, written as `instant_json` writes it."""
    return instant_json(moment)[1:-1].decode()
