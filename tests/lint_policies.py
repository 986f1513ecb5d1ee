"""Generated policies for the lint tests and benchmark: random small ones that exercise every
analysis, and large ones built from a bundled policy.

    random_policy(seed)   a policy of a dozen rules, tables and plans; the same text per seed
    scale_policy(n)       CloudTalk's policy plus n generated rules and a few planted defects
"""

from __future__ import annotations

import random
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

_ENUMS = {
    "environment": ["production", "staging", "development"],
    "category": ["outage", "degradation", "defect", "how_to", "feature_request", "question"],
    "impact": ["high", "medium", "low"], "urgency": ["high", "medium", "low"],
    "channel": ["email", "portal", "phone", "chat"], "product_stage": ["ga", "beta", "preview"],
    "customer.segment": ["customer", "trial", "community"],
    "tier": ["gold", "silver", "bronze"],
}
_REGIONS = ["eu", "us", "apac", "latam"]
_FLAGS = ("entitlement.guaranteed", "flag", "customer.reachable")
_STAGES = ["assign", "default", "override", "reclassify", "final", "entitle", "target"]
_SOURCE = {"document": "terms", "quote": "q"}


class _Random:
    """One random policy: `mode` 0 plain, 1 many groups, 2 many level-testing reclassifies."""

    def __init__(self, seed: int, rules: int | None):
        self.rng = random.Random(seed)
        self.mode = seed % 3
        self.rules = rules
        self.levels = [f"P{i + 1}" for i in range(self.rng.randint(2, 5))]
        self.plans: dict[str, dict] = {}

    def lit(self, fact: str) -> object:
        rng = self.rng
        if fact in _ENUMS:
            return rng.choice(_ENUMS[fact])
        if fact in ("priority", "requested_priority", "agent_priority"):
            return rng.choice(self.levels)
        if fact in ("entitlement.plan", "plan"):
            return rng.choice(list(self.plans))
        if fact == "region":
            return rng.choice(_REGIONS)
        if fact == "seats":
            return rng.randint(0, 20)
        if fact == "score":
            return rng.choice([0.5, 10, 50, 99.5])
        return rng.choice([True, False])

    def test(self, fact: str) -> object:
        r = self.rng.random()
        if fact in ("seats", "score") and r < 0.6:
            return {self.rng.choice(["lt", "le", "gt", "ge"]): self.lit(fact)}
        if fact in _FLAGS:
            return self.rng.choice([True, False]) if r < 0.8 else {
                "present": self.rng.choice([True, False])}
        if r < 0.45:
            return self.lit(fact)
        if r < 0.65:
            return sorted({self.lit(fact) for _ in range(self.rng.randint(1, 3))}, key=str)
        if r < 0.75:
            return {"ne": self.lit(fact)}
        if r < 0.85:
            return {"not_in": sorted({self.lit(fact) for _ in range(2)}, key=str)}
        return {"present": self.rng.choice([True, False])}

    def condition(self, depth: int = 0) -> dict:
        pool = [*_ENUMS, "priority", "requested_priority", "agent_priority", "plan",
                "entitlement.plan", "entitlement.guaranteed", "region", "seats", "score",
                "flag", "customer.reachable"]
        out: dict = {f: self.test(f) for f in self.rng.sample(pool, self.rng.randint(1, 3))}
        if depth < 2 and self.rng.random() < 0.25:
            out["any"] = [self.condition(depth + 1) for _ in range(2)]
        if depth < 2 and self.rng.random() < 0.1:
            out["not"] = self.condition(depth + 1)
        return out

    def documented(self, item: dict, chance: float = 0.9) -> dict:
        if self.rng.random() < chance:
            item["because"] = "b"
        if self.rng.random() < chance:
            item["source"] = dict(_SOURCE)
        return item

    def plan(self) -> dict:
        r = self.rng.random()
        plan: dict = {"channels": ["portal"]}
        if r < 0.2:
            plan["guarantee"] = False
        elif r < 0.3:
            plan.update(calendar="always", targets="contract")
        elif r < 0.4:
            plan["calendar"] = "always"
        else:
            plan["calendar"] = "always"
            plan["targets"] = {lv: f"PT{j + 1}H" for j, lv in enumerate(self.levels)
                               if self.rng.random() < 0.85} or {self.levels[0]: "PT1H"}
        return self.documented(plan)

    def table(self, t: int) -> dict:
        rng = self.rng
        inputs = rng.sample(["impact", "urgency", "environment", "tier", "region",
                             "product_stage"], rng.randint(1, 2))
        rows = []
        for _ in range(rng.randint(1, 8)):
            row: list = []
            for f in inputs:
                r = rng.random()
                row.append("*" if r < 0.25 else
                           sorted({self.lit(f) for _ in range(2)}, key=str) if r < 0.4 else
                           self.lit(f))
            rows.append([*row, rng.choice(self.levels)])
        table: dict = {"id": f"t{t}", "inputs": inputs, "rows": rows}
        if rng.random() < 0.5:
            table["hit"] = "first"
        if rng.random() < 0.3:
            table["action"] = rng.choice(["default", "override", "reclassify"])
        if rng.random() < 0.2:
            table["when"] = {"category": sorted({self.lit("category") for _ in range(3)})}
        return self.documented(table, 0.8)

    def priority(self, kind: str) -> object:
        v = self.rng.random()
        if v < 0.6 or kind == "default":
            return self.rng.choice(self.levels)
        if v < 0.8:
            return {"fact": self.rng.choice(["requested_priority", "agent_priority"])}
        if kind == "reclassify":
            return {self.rng.choice(["up", "down"]): self.rng.randint(1, 2)}
        return self.rng.choice(self.levels)

    def rule(self, i: int) -> dict:
        rng = self.rng
        then: dict = {}
        if rng.random() < 0.6:
            kind = rng.choice(["assign", "default", "override", "reclassify", "reclassify",
                               "reclassify"])
            then[kind] = self.priority(kind)
        if rng.random() < 0.15:
            then["use_plan"] = rng.choice(list(self.plans))
        if rng.random() < 0.1:
            then["no_guarantee"] = "why"
        if rng.random() < 0.15:
            then["target"] = rng.choice(["PT1H", "PT2H", {"within": "PT30M", "calendar": "always"}])
        rule: dict = {"id": f"r{i}", "then": then or {"note": f"n{i}"}}
        if rng.random() < 0.9:
            rule["when"] = self.condition()
        if rng.random() < (0.7 if self.mode == 1 else 0.25):
            rule["group"] = rng.choice(["g1", "g2"])
        if rng.random() < 0.2:
            rule["salience"] = rng.choice([-5, 5, 10])
        if rng.random() < 0.2:
            rule["repeat"] = True
        if rng.random() < 0.3:
            rule["stage"] = rng.choice(_STAGES)
        self.documented(rule)
        if self.mode == 2 and rng.random() < 0.8:   # level-testing reclassifications: cycles
            rule["stage"] = rng.choice(["reclassify", "reclassify", "final"])
            when = rule.setdefault("when", {})
            when["priority"] = (rng.choice(self.levels) if rng.random() < 0.6 else
                                sorted(rng.sample(self.levels, 2)))
            for f in list(when):
                if f not in ("priority", "environment", "category", "any", "agent_priority") \
                        and rng.random() < 0.6:
                    del when[f]
            r = rng.random()
            rule["then"] = {"reclassify": rng.choice(self.levels) if r < 0.6 else
                            {"fact": "agent_priority"} if r < 0.75 else
                            {rng.choice(["up", "down"]): rng.randint(1, 2)}}
        return rule

    def policy(self) -> dict:
        rng = self.rng
        for pid in ["standard", "premium", "basic"][:rng.randint(1, 3)]:
            self.plans[pid] = self.plan()
        facts: dict = {"seats": {"type": "integer"},
                       "score": {"type": "number", "minimum": 0, "maximum": 100},
                       "tier": {"type": "string", "enum": _ENUMS["tier"]},
                       "region": {"type": "string"}, "flag": {"type": "boolean"}}
        if rng.random() < 0.3:
            facts["tier"]["default"] = "silver"
        if rng.random() < 0.2:
            facts["unusedfact"] = {"type": "string"}
        tables = [self.table(t) for t in range(rng.randint(0, 2))]
        rules = []
        if rng.random() < 0.7:
            rules.append({"id": "chosen", "when": {"requested_priority": {"present": True}},
                          "then": {"assign": {"fact": "requested_priority"}}, "because": "b",
                          "source": dict(_SOURCE)})
        if rng.random() < 0.7:
            rules.append({"id": "fallback", "then": {"default": self.levels[-1]},
                          "because": "b", "source": dict(_SOURCE)})
        count = self.rules if self.rules is not None else rng.randint(1, 14)
        rules += [self.rule(i) for i in range(count)]
        sources = [{"id": "terms", "title": "T"}]
        if rng.random() < 0.2:
            sources.append({"id": "old", "title": "O"})
        calendars = {"always": "24x7", **({"office": "24x7"} if rng.random() < 0.2 else {})}
        doc: dict = {"id": "generated", "title": "Generated", "version": "1",
                     "sources": sources, "levels": self.levels, "calendars": calendars,
                     "facts": facts, "plans": self.plans, "rules": rules}
        if rng.random() < 0.7:
            doc["default_plan"] = next(iter(self.plans))
        if tables:
            doc["tables"] = tables
        return doc


def random_policy(seed: int, rules: int | None = None) -> str:
    """A valid random policy (YAML), the same for the same seed and rule count."""
    return yaml.safe_dump(_Random(seed, rules).policy(), sort_keys=False, allow_unicode=True)


_ENVS = ["production", "staging", "development"]
_CATEGORIES = _ENUMS["category"]
_CHANNELS = _ENUMS["channel"]
_SEGMENTS = _ENUMS["customer.segment"]
_DOC = '    because: b\n    source: {document: response-times, quote: "q"}\n'

# Defects planted among the generated rules, and what lint says about them.
PLANTED = """
  - id: planted-up
    when: {account: acme-planted, priority: P2, environment: production, category: outage}
    then: {reclassify: P1}
""" + _DOC + """
  - id: planted-down
    when: {account: acme-planted, priority: P2, environment: production, channel: phone}
    then: {reclassify: P3}
""" + _DOC + """
  - id: planted-contradiction
    when: {environment: production, all: [{environment: staging}]}
    then: {note: never}
""" + _DOC + """
  - id: planted-outage
    group: planted
    when: {category: outage}
    then: {note: outage}
""" + _DOC + """
  - id: planted-outage-production
    group: planted
    when: {category: outage, environment: production}
    then: {note: outage in production}
""" + _DOC + """
  - id: planted-undocumented
    when: {seats: {ge: 1000000}}
    then: {note: very large customer}
"""


def scale_policy(n: int) -> str:
    """CloudTalk's policy plus `n` generated rules on varied values of ten facts (notes,
    reclassifications per account, numeric bands of seats) and the PLANTED defects."""
    text = (ROOT / "rules" / "cloudtalk" / "policy.yaml").read_text("utf-8")
    # the generated rules go at the end of `rules:` (the section before `metrics:` or
    # `readings:`, whichever comes first)
    cut = min(i for i in (text.find("\nmetrics:"), text.find("\nreadings:")) if i >= 0)
    head, sep, tail = text[:cut], "", text[cut:]
    head = head.replace("\nrules:\n", "\nfacts:\n  account: {type: string}\n"
                        "  seats: {type: integer}\n\nrules:\n", 1)
    out = [head]
    for i in range(n):
        kind = i % 4
        if kind == 0:    # a note for one combination of four ticket facts
            when = (f"environment: {_ENVS[i % 3]}, category: {_CATEGORIES[(i // 3) % 6]}, "
                    f"channel: {_CHANNELS[(i // 18) % 4]}, "
                    f"customer.segment: {_SEGMENTS[(i // 72) % 3]}")
            then = f"note: n{i}"
        elif kind == 1:  # one account's P2 production tickets, raised or lowered
            when = f"account: acct-{i}, priority: P2, environment: production"
            then = f"reclassify: P{1 + (i // 4) % 2 * 2}"
        elif kind == 2:  # a band of seats
            when = f"seats: {{ge: {10 * i}}}, all: [{{seats: {{lt: {10 * i + 10}}}}}]"
            then = f"note: band {i}"
        else:            # like CloudTalk's own: P1 in staging or development is general
            when = f"priority: P1, environment: {_ENVS[1 + i % 2]}, category: {_CATEGORIES[i % 6]}"
            then = "reclassify: P3"
        out.append(f"\n  - id: gen-{i}\n    when: {{{when}}}\n    then: {{{then}}}\n" + _DOC)
    out.append(PLANTED)
    return "".join(out) + sep + tail
