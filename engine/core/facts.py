"""The fact catalogue: core ticket facts, facts derived during evaluation, and declared facts.

One table drives ticket validation, condition checking (unknown names, enum values, types) and the
published `schemas/ticket.schema.json` (a test keeps the two in agreement).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Literal

FactType = Literal[
    "string", "integer", "number", "boolean", "enum", "timestamp", "timezone", "country",
    "level", "plan", "targets",
]


@dataclass(frozen=True)
class FactSpec:
    """What one fact path may hold."""

    path: str
    type: FactType
    enum: tuple = ()
    required: bool = False
    default: object = None
    nullable: bool = True
    derived: bool = False          # computed during evaluation, not read from the ticket
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None

    @property
    def comparable(self) -> bool:
        return self.type in ("integer", "number")


CHANNELS = ("email", "portal", "phone", "chat", "account_manager")
TICKET_CHANNELS = ("email", "portal", "phone", "chat")

CORE_FACTS: tuple[FactSpec, ...] = (
    FactSpec("id", "string", required=True, nullable=False, description="the ticket's id"),
    FactSpec("submitted_at", "timestamp", required=True, nullable=False,
             description="RFC 3339 with offset"),
    FactSpec("requested_priority", "level", description="the customer's chosen level"),
    FactSpec("agent_priority", "level", description="a support engineer's reclassification"),
    FactSpec("plan", "plan", description="the customer's support plan"),
    FactSpec("customer.segment", "enum", ("customer", "trial", "community"), default="customer"),
    FactSpec("customer.timezone", "timezone"),
    FactSpec("customer.country", "country"),
    FactSpec("customer.reachable", "boolean", default=True),
    FactSpec("contract.response_targets", "targets",
             description="level -> ISO 8601 duration from the customer's quote"),
    FactSpec("environment", "enum", ("production", "staging", "development")),
    FactSpec("product_stage", "enum", ("ga", "beta", "preview")),
    FactSpec("channel", "enum", TICKET_CHANNELS),
    FactSpec("impact", "enum", ("high", "medium", "low")),
    FactSpec("urgency", "enum", ("high", "medium", "low")),
    FactSpec("category", "enum",
             ("outage", "degradation", "defect", "how_to", "feature_request", "question")),
    FactSpec("first_response_at", "timestamp"),
)

DERIVED_FACTS: tuple[FactSpec, ...] = (
    FactSpec("priority", "level", derived=True, description="the current level"),
    FactSpec("entitlement.plan", "plan", derived=True, description="the plan in effect"),
    FactSpec("entitlement.guaranteed", "boolean", derived=True, nullable=False,
             description="whether a guaranteed response applies"),
)

# Facts that hold timestamps or maps: not usable in conditions (rules compare categorical facts).
NOT_CONDITIONABLE = {"id", "submitted_at", "first_response_at", "contract.response_targets"}

CORE_PATHS = frozenset(f.path for f in CORE_FACTS)
CORE_PARENTS = frozenset(p.split(".")[0] for p in CORE_PATHS if "." in p)


def engine_number_problem(value: float | int) -> str | None:
    """Why durable_rules cannot take this number, or None. It fails on JSON numbers written
    with an exponent (Python writes floats below 1e-4 or from 1e16 on that way)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if abs(value) < 2**53 else "integers must be below 2^53 in magnitude"
    if value != value or value in (float("inf"), float("-inf")):
        return "numbers must be finite"
    if value != 0 and not 1e-4 <= abs(value) < 1e16:
        return "numbers must be 0 or between 0.0001 and 1e16 in magnitude"
    return None


@cache
def iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, from the tz database's iso3166.tab (shipped by tzdata)."""
    text = resources.files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text("utf-8")
    return frozenset(line.split("\t", 1)[0] for line in text.splitlines()
                     if line and not line.startswith("#"))


@cache
def iana_zones() -> frozenset[str]:
    import zoneinfo

    # the system's database may add names that are not zones of their own ("localtime" is
    # whatever the host is set to); keep the IANA names only
    return frozenset(z for z in zoneinfo.available_timezones()
                     if z not in ("localtime", "posixrules", "Factory")
                     and not z.startswith(("posix/", "right/")))


# property names the engine itself uses on facts (see compile limits)
ENGINE_NAMES = ("kind", "id", "sid", "level", "plan", "guaranteed", "$s")
