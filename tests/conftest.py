"""Shared fixtures: build small policies from YAML text. Test options: tests marked `slow`
(more than ~1 s each: the soak, fault and property campaigns, crashed worker and server
processes, wheel builds) run only when CI is set in the environment or `--runslow` is given, so
the plain `python -m pytest -q` stays under a minute; hypothesis uses its `ci` profile then,
`dev` otherwise, and `campaign(plain, full)` sizes the other campaigns. The suite runs in
parallel (pytest-xdist, `-n auto` in pyproject.toml; `-n 0` for one process): tests write only
under tmp_path and start servers on free loopback ports."""

from __future__ import annotations

import json
import os
import sys
import textwrap
from functools import cache
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RUN_SLOW_HOW = "python -m pytest -q --runslow (CI=true runs them too)"

settings.register_profile(
    "ci", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow (CI=true does too)")


def run_slow(config: pytest.Config) -> bool:
    """Slow tests run when CI is set (to anything but empty, 0 or false) or with --runslow."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    return ci or bool(config.getoption("--runslow"))


_FULL_SIZE = [False]  # set by pytest_configure: do the slow tests run in this session?


def campaign(plain: int, full: int) -> int:
    """A campaign's size: `full` where the slow tests run (CI, --runslow), `plain` in the
    developer's plain run, so a property or fault campaign keeps a quick case there."""
    return full if _FULL_SIZE[0] else plain


def pytest_configure(config: pytest.Config) -> None:
    _FULL_SIZE[0] = run_slow(config)
    if not config.getoption("hypothesis_profile", None):  # an explicit --hypothesis-profile wins
        settings.load_profile("ci" if run_slow(config) else "dev")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if run_slow(config):
        return
    skip = pytest.mark.skip(reason=f"slow: run with {RUN_SLOW_HOW}")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)

BASE = """\
id: mini
title: Mini policy
version: "1"
sources:
  - {id: doc, title: The document}
levels: [P1, P2, P3]
calendars:
  office:
    timezone: Europe/Berlin
    hours: {mon-fri: ["09:00-17:00"]}
  always: {preset: 24x7, timezone: UTC}
plans:
  std:
    channels: [email, portal]
    calendar: office
    targets: {P1: PT1H, P2: PT4H, P3: PT8H}
  none:
    channels: [email]
    guarantee: false
default_plan: std
"""


@cache
def schema_validator(name: str) -> jsonschema.protocols.Validator:
    """The validator for schemas/<name>.schema.json, built once (and the schema checked once):
    `jsonschema.validate()` re-checks the schema and builds a new validator on every call."""
    schema = json.loads((ROOT / "schemas" / f"{name}.schema.json").read_text("utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def policy_text(rules: str, base: str = BASE) -> str:
    """A complete policy: the mini base plus the given `rules:` (and optional tables) YAML."""
    return base + textwrap.dedent(rules)


@pytest.fixture
def make_policy(tmp_path):
    """make_policy(rules_yaml) -> CompiledPolicy, from the mini base policy."""
    from engine import load_policy

    counter = iter(range(10_000))

    def build(rules: str, base: str = BASE):
        path = tmp_path / f"policy{next(counter)}.yaml"
        path.write_text(policy_text(rules, base), encoding="utf-8")
        return load_policy(str(path))

    return build


@pytest.fixture
def check_text(tmp_path):
    """check_text(full_yaml) -> (policy model or None, diagnostics)."""
    from engine.check.files import check_file

    def check(text: str):
        path = tmp_path / "policy.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return check_file(path)

    return check


def ticket(**fields) -> dict:
    base = {"id": "T-1", "submitted_at": "2026-03-02T10:00:00+01:00"}
    base.update(fields)
    return base
