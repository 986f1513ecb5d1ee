"""How lint messages show values, levels, targets and lists of names."""

from __future__ import annotations

from engine.author.lint.actions import priority_of
from engine.core.model import Rule, Target


def fmt(v: object) -> str:
    """A fact value as messages show it: `absent`, `true`, `P1`."""
    if v is None:
        return "absent"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def tick(items: list[str], conjunction: str = "and") -> str:
    """`a`, `b` and `c` (each item in backticks)."""
    shown = [f"`{x}`" for x in items]
    if len(shown) <= 2:
        return f" {conjunction} ".join(shown)
    return ", ".join(shown[:-1]) + f" {conjunction} " + shown[-1]


def show_level(value: object, level: str) -> str:
    """The level a priority action sets, with how it got there (`P2 by `down: 1``)."""
    if isinstance(value, str):
        return value
    assert isinstance(value, dict)
    if "fact" in value:
        return f"{level} from `{value['fact']}`"
    key = "down" if "down" in value else "up"
    return f"{level} by `{key}: {value[key]}`"


def show_target(value: object) -> str:
    """A response target as messages show it: `4h on `office``."""
    if isinstance(value, Target) and value.within is not None:
        hours = value.within.total_seconds() / 3600
        shown = f"{hours:g}h" if hours >= 1 else f"{value.within.total_seconds() / 60:g}min"
        where = f"`{value.calendar}`" if value.calendar else "the plan's calendar"
        return f"{shown} on {where}"
    return str(value)


def outcome(rule: Rule) -> str:
    """The value of a rule's priority action, or `?`."""
    action = priority_of(rule)
    return str(action[1]) if action else "?"
