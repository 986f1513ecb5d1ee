"""`ticket-policy diff`: what a policy edit changes, rule by rule and ticket by ticket."""

from engine.ops.diff.compare import PolicyDiff, diff_policies, diff_sides
from engine.ops.diff.render import render

__all__ = ["PolicyDiff", "diff_policies", "diff_sides", "render"]
