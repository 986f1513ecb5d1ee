"""The checked policy: immutable dataclasses the compiler and linter work from."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

from engine.core.diagnostics import Location

# Stages in firing order; a rule never fires after a rule of a later stage has fired.
STAGES = ("assign", "default", "override", "reclassify", "final", "entitle", "target")
PRIORITY_ACTIONS = ("assign", "default", "override", "reclassify")
NEGATE_OP = {"eq": "ne", "ne": "eq", "in": "not_in", "not_in": "in"}


@dataclass(frozen=True)
class Test:
    """One test on one fact path: `environment in [staging, development]`."""

    __test__ = False  # not a pytest test class

    path: str
    op: str                 # eq ne in not_in lt le gt ge present absent
    value: object = None    # scalar, or tuple for in / not_in
    pointer: str = ""

    def describe(self) -> str:
        v = self.value
        shown = {
            "eq": f"is {_show(v)}", "ne": f"is not {_show(v)}",
            "in": f"is one of {', '.join(_show(x) for x in v)}" if isinstance(v, tuple) else "",
            "not_in": f"is none of {', '.join(_show(x) for x in v)}"
            if isinstance(v, tuple) else "",
            "lt": f"< {v}", "le": f"<= {v}", "gt": f"> {v}", "ge": f">= {v}",
            "present": "is present", "absent": "is absent",
        }[self.op]
        return f"{self.path} {shown}"

    def holds(self, value: object) -> bool:
        """Evaluate this test in Python (explanations and lint; evaluation runs the engine)."""
        from engine.core.logic import holds
        return holds(self.op, self.value, value)


def _show(v: object) -> str:
    if isinstance(v, str):
        return f'"{v}"'
    if v is None:
        return "null"
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


@dataclass(frozen=True)
class Condition:
    """A condition tree: `op` is all / any / not (children) or test (a leaf)."""

    op: str
    children: tuple[Condition, ...] = ()
    test: Test | None = None

    def tests(self) -> list[Test]:
        if self.test is not None:
            return [self.test]
        return [t for c in self.children for t in c.tests()]


@dataclass(frozen=True, kw_only=True)
class Source:
    document: str
    quote: str
    gloss: str | None = None
    section: str | None = None
    title: str | None = None    # the document's title, resolved from `sources`

    def to_json(self) -> dict:
        out = {"document": self.document, "title": self.title, "quote": self.quote}
        if self.section:
            out["section"] = self.section
        if self.gloss:
            out["gloss"] = self.gloss
        return out


@dataclass(frozen=True)
class Target:
    """A response target: open time `within` on `calendar`, for one SLA metric.

    `within` is None for the customer's contract's time at the ticket's level
    (`contract.response_targets`), measured on `calendar` (None: the plan in effect's).
    """

    within: timedelta | None
    calendar: str | None   # None in a rule: the calendar of the plan in effect
    metric: str = "first_response"

    @property
    def from_contract(self) -> bool:
        return self.within is None


#: A level expression: a literal level, `{fact: path}` (the level a ticket fact holds) or
#: `{up: n}` / `{down: n}` (a shift from the current level).
LevelExpr = str | dict


@dataclass(frozen=True, slots=True, kw_only=True)
class SetPriority:
    """`assign`, `default`, `override` or `reclassify` a level."""

    kind: str
    level: LevelExpr

    @property
    def value(self) -> object:
        return self.level


@dataclass(frozen=True, slots=True, kw_only=True)
class UsePlan:
    """The plan in effect becomes `plan` (e.g. trial customers get premium)."""

    plan: str
    kind: ClassVar[str] = "use_plan"

    @property
    def value(self) -> object:
        return self.plan


@dataclass(frozen=True, slots=True, kw_only=True)
class NoGuarantee:
    """No guaranteed response, for `reason`."""

    reason: str
    kind: ClassVar[str] = "no_guarantee"

    @property
    def value(self) -> object:
        return self.reason


@dataclass(frozen=True, slots=True, kw_only=True)
class SetTarget:
    """A response target: a `Target`, or the customer's contract's time for the level (`target`
    None: on the plan in effect's calendar; a Target whose `within` is None: on its calendar)."""

    target: Target | None
    kind: ClassVar[str] = "target"

    @property
    def from_contract(self) -> bool:
        return self.target is None or self.target.within is None

    @property
    def value(self) -> object:
        if self.target is None or self.target.within is None and self.target.calendar is None:
            return "contract"
        if self.target.within is None:
            return f"contract on `{self.target.calendar}`"
        return self.target


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferChannels:
    channels: tuple[str, ...]
    kind: ClassVar[str] = "offer_channels"

    @property
    def value(self) -> object:
        return self.channels


@dataclass(frozen=True, slots=True, kw_only=True)
class WithholdChannels:
    channels: tuple[str, ...]
    kind: ClassVar[str] = "withhold_channels"

    @property
    def value(self) -> object:
        return self.channels


@dataclass(frozen=True, slots=True, kw_only=True)
class AddObligations:
    """Duties on the customer or the vendor: (party, duty) pairs."""

    items: tuple[tuple[str, str], ...]
    kind: ClassVar[str] = "obligations"

    @property
    def value(self) -> object:
        return self.items


@dataclass(frozen=True, slots=True, kw_only=True)
class AddNote:
    text: str
    kind: ClassVar[str] = "note"

    @property
    def value(self) -> object:
        return self.text


Action = (SetPriority | UsePlan | NoGuarantee | SetTarget | OfferChannels | WithholdChannels
          | AddObligations | AddNote)


@dataclass(frozen=True, kw_only=True)
class Rule:
    """A rule after checking: one of the author's rules, a table row, or a plan's target."""

    id: str
    stage: str
    actions: tuple[Action, ...]               # in the order the format lists them
    when: Condition | None
    location: Location
    because: str | None = None
    source: Source | None = None
    salience: int = 0
    group: str | None = None
    repeat: bool = False
    origin: str = "rule"      # rule | table | plan
    order: int = 0            # declaration order across the file
    pointer: str = ""
    once: bool = False        # over a ticket's life: once fired, the facts it matched are held
    #: lint codes the author marked as intended at this rule: (code, reason) pairs
    lint_ignore: tuple[tuple[str, str], ...] = ()

    @property
    def priority_action(self) -> SetPriority | None:
        for action in self.actions:
            if isinstance(action, SetPriority):
                return action
        return None


@dataclass(frozen=True, kw_only=True)
class Plan:
    id: str
    title: str | None
    channels: tuple[str, ...]
    calendar: str | None
    guarantee: bool
    targets: dict | str | None     # level -> Target, "contract", or None
    location: Location
    source: Source | None = None
    cited: dict = field(default_factory=dict)   # level -> (because, Source) of its own target


#: The SLA metrics a policy may declare, in the order decisions list their clocks.
METRICS = ("first_response", "next_response", "resolution")
#: How a running clock takes a new target when the priority changes (see docs/timelines.md).
CLOCK_RULES = ("from_start", "from_change", "sooner")
#: Ticket statuses an event may set; statuses a metric may pause on.
STATUSES = ("open", "pending", "on_hold", "solved", "closed", "reopened")
PAUSE_STATUSES = ("pending", "on_hold")


@dataclass(frozen=True, kw_only=True)
class Metric:
    """An SLA metric: what starts and fulfils its clock, what pauses it, its targets, and how a
    priority change moves it. `targets` (plan -> level -> Target) is empty for
    `first_response`, whose targets the plans and rules decide."""

    name: str
    title: str | None = None
    starts: str = "submitted"                 # submitted | customer_reply
    fulfilled_by: tuple[str, ...] = ("agent_reply",)
    pauses: tuple[str, ...] = ()
    reopen: str = "keep"                      # keep | resume
    calendar: str | None = None
    targets: dict = field(default_factory=dict)
    on_raise: str = "from_start"
    on_lower: str = "from_start"
    warn_before: timedelta | None = None
    warn_fraction: float | None = None
    not_promised: str | None = None           # the policy says this is not promised, and why
    because: str | None = None
    source: Source | None = None
    location: Location = field(default_factory=Location)
    declared: bool = True                     # False: the default first_response metric


@dataclass(frozen=True, kw_only=True)
class Policy:
    """A checked policy, ready to compile."""

    id: str
    title: str
    version: str
    file: str
    levels: tuple[str, ...]
    level_titles: dict
    sources: dict                  # id -> {title, language, location}
    facts: dict                    # path -> FactSpec (core + derived + declared)
    calendars: dict                # name -> Calendar
    calendar_specs: dict           # name -> raw spec
    plans: dict                    # id -> Plan
    default_plan: str | None
    rules: tuple[Rule, ...]        # author rules, table rows and plan rules, in firing order
    notes: tuple[str, ...]
    readings: tuple[dict, ...]
    max_firings: int
    canonical: str                 # canonical JSON of the document, hashed into the digest
    ignore_fields: tuple[str, ...] = ()   # ticket fields the policy knowingly ignores
    ignore_locations: tuple[Location, ...] = ()   # where each is written
    raw: dict = field(repr=False, default_factory=dict)
    metrics: tuple[Metric, ...] = ()   # declared SLA metrics (none: the default first_response)
    # effective dating: in force for tickets submitted in [effective_from, effective_until)
    effective_from: datetime | None = None
    effective_until: datetime | None = None
    effective_location: Location | None = None   # where `effective_from` is written
    audit_fields: tuple[str, ...] = ()     # ticket fields the decision log stores too
    sensitive: tuple[str, ...] = ()        # fields the log stores as salted hashes only

    def in_force(self, at: datetime) -> bool:
        """Is this version in force for a ticket submitted at `at`? (Undated: always.)"""
        return ((self.effective_from is None or self.effective_from <= at) and
                (self.effective_until is None or at < self.effective_until))
