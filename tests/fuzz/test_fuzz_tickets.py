"""Fuzz: hostile ticket input through the use case and through real CLI processes.

Invariants: a status and exit code from the documented set (0 decided, 2 bad input, 3 failed
to decide — never an engine failure on a bundled policy), no traceback, no signal, a time
bound, the decision cache equal to the engine, the same output under any hash seed, and
output in any terminal encoding.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
from cliproc import cli_many
from fuzz_support import (
    BUNDLED,
    PROFILE,
    ROOT,
    TIME_BOUND,
    now_values,
    ticket_bytes,
    timed,
)
from hypothesis import event, given
from hypothesis import strategies as st

from engine import app, load_policy
from engine.core.decision import Decision
from engine.run.evaluator import Evaluator
from engine.timeline.evaluator import TimelineEvaluator

pytestmark = pytest.mark.slow
POLICIES = {pid: load_policy(pid) for pid in BUNDLED}
ALLOWED_FAILURES = {"firing_bound_exceeded", "calendar_exhausted"}
TICKET_SCHEMA = jsonschema.Draft202012Validator(
    json.loads((ROOT / "schemas" / "ticket.schema.json").read_text("utf-8")))
POLICY_FACTS = {path.split(".")[0] for cp in POLICIES.values() for path in cp.policy.facts
                if path.split(".")[0] not in TICKET_SCHEMA.schema["properties"]}


@st.composite
def inputs(draw) -> tuple[str, bytes, str | None]:
    pid = draw(st.sampled_from(BUNDLED))
    return pid, draw(ticket_bytes(POLICIES[pid])), draw(now_values())


@PROFILE.examples(1000)
@given(inputs())
def test_hostile_tickets_through_the_use_case(case):
    pid, raw, now = case
    decided, seconds = timed(app.decide, pid, raw, source_name="<fuzz>", now_text=now)
    assert seconds < TIME_BOUND
    assert decided.status in (app.Status.OK, app.Status.INPUT_ERROR, app.Status.FAILED)
    event(f"status {decided.status}")
    for d in decided.diagnostics:
        assert d.render() and json.dumps(d.to_json())
    if decided.status == app.Status.FAILED:
        assert {d.code for d in decided.diagnostics} <= ALLOWED_FAILURES, decided.diagnostics
    if decided.status != app.Status.INPUT_ERROR:   # accepted: what the schema allows
        assert not raw.startswith(b"\xef\xbb\xbf" * 2)
        TICKET_SCHEMA.validate(_core(decided.ticket_data))
    if decided.ok:
        record = decided.decision.to_json()
        assert Decision.from_json(record).to_json() == record
        json.dumps(record, ensure_ascii=True)
        engine = TimelineEvaluator(Evaluator()).evaluate(
            decided.policy, decided.ticket_data, now=decided.decision.now, cache=False)
        assert engine.to_json() == record   # the decision cache equals the engine


def _core(ticket: dict) -> dict:
    """The ticket without the policy's own facts, which the core schema does not describe."""
    core = dict(ticket)
    for key in POLICY_FACTS:
        core.pop(key, None)
    return core


@st.composite
def cli_batches(draw) -> tuple[list[bytes], list[list[str]], str, str]:
    """Ticket files and the commands that read them, an encoding and a hash seed."""
    files, commands = [], []
    for i in range(draw(st.integers(4, 12))):
        pid = draw(st.sampled_from(BUNDLED))
        files.append(draw(ticket_bytes(POLICIES[pid])))
        command = draw(st.sampled_from([["evaluate"], ["explain"],
                                        ["explain", "--format", "json"],
                                        ["explain", "--format", "markdown"],
                                        ["explain", "--why-not", "p1-production-only"]]))
        now = draw(now_values())
        commands.append([*command, "-p", pid, *(["--now", now] if now else []), f"{{{i}}}"])
    encoding = draw(st.sampled_from(["utf-8", "cp1252", "ascii", "latin-1"]))
    return files, commands, encoding, str(draw(st.integers(1, 2**32 - 1)))


@PROFILE.examples(10, shrink=False)
@given(cli_batches())
def test_hostile_tickets_through_the_cli(tmp_path_factory, batch):
    files, commands, encoding, seed = batch
    folder = tmp_path_factory.mktemp("tickets")
    paths = []
    for i, raw in enumerate(files):
        path = folder / f"ticket{i}.json"
        path.write_bytes(raw)
        paths.append(str(path))
    commands = [[arg.format(*paths) if arg.startswith("{") else arg for arg in c]
                for c in commands]
    first = cli_many(commands, encoding, hash_seed="0", timeout=120 + 10 * len(commands))
    for command, (code, out, err) in zip(commands, first, strict=True):
        assert code in (0, 2, 3), (command, code, err)
        assert b"Traceback" not in err, (command, err)
        if code == 0 and (command[0] == "evaluate" or "json" in command):
            json.loads(out.decode(encoding))
        if code == 3:
            assert b"engine_failure" not in err, (command, err)
        if code != 0:
            assert out == b"" and err, (command, out, err)
    again = cli_many(commands, encoding, hash_seed=seed, timeout=120 + 10 * len(commands))
    assert again == first   # the same bytes under another hash seed
