"""A rule's typed actions as the (kind, value) pairs the analyses compare."""

from __future__ import annotations

from engine.core.model import Rule


def actions_of(rule: Rule) -> tuple[tuple[str, object], ...]:
    """The rule's typed actions as (kind, value) pairs (a contract target's value: `contract`)."""
    return tuple((a.kind, a.value) for a in rule.actions)


def priority_of(rule: Rule) -> tuple[str, object] | None:
    """The rule's priority action as (kind, level expression), if it has one."""
    action = rule.priority_action
    return (action.kind, action.level) if action else None
