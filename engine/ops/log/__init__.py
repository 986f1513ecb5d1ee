"""The decision log: append-only, hash-chained, replayable (docs/decision-log.md).

    from engine.ops.log import DecisionLog, Entry
    with DecisionLog.open("decisions.db") as log:
        receipt = log.append(decision, policy=compiled_policy, ticket=ticket)   # durable now
        receipts = log.append_many([Entry(d, cp, t) for d, t in pairs])          # one commit
"""

from engine.ops.log.store import DecisionLog, Entry, LogError, Receipt

__all__ = ["DecisionLog", "Entry", "LogError", "Receipt"]
