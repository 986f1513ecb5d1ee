"""What the fuzz tests share: profiles, generators of hostile tickets and policy mutants, and a
worker process that evaluates policies the engine might hang or crash on.

Profiles (docs/fuzzing.md): `TICKET_POLICY_FUZZ=long` for long local runs, else `ci` when the
`CI` environment variable is set (every CI run, a few minutes in all), else `dev` (a quick
look). Each test takes `PROFILE.examples(n)`: n examples under `ci`, n // 4 under `dev` and
n * 25 under `long`.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import yaml
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from engine.core.facts import CORE_FACTS, iana_zones

ROOT = Path(__file__).resolve().parent.parent.parent
NAME = os.environ.get("TICKET_POLICY_FUZZ") or ("ci" if os.environ.get("CI") else "dev")
BUNDLED = ("cloudtalk", "credenti", "csd-group", "zmanda")
TIME_BOUND = 20.0   # seconds any one policy check or evaluation may take


@dataclass(frozen=True)
class Profile:
    name: str
    scale: float

    def examples(self, n: int, shrink: bool = True) -> settings:
        """Hypothesis settings for a test worth `n` examples in CI (`shrink=False` for costly
        examples: the failing one is reported as found)."""
        phases = [p for p in Phase if shrink or p not in (Phase.shrink, Phase.explain)]
        return settings(max_examples=max(1, int(n * self.scale)), deadline=None, phases=phases,
                        derandomize=self.name == "ci", database=None if self.name == "ci"
                        else settings.default.database, print_blob=True,
                        suppress_health_check=[HealthCheck.too_slow,
                                               HealthCheck.data_too_large,
                                               HealthCheck.filter_too_much])


PROFILE = Profile(NAME, {"ci": 1.0, "dev": 0.25, "long": 25.0}.get(NAME, 1.0))


def bundled_text(pid: str) -> str:
    return (ROOT / "rules" / pid / "policy.yaml").read_text("utf-8")


# ---- tickets -------------------------------------------------------------------------------

ZONES = sorted(iana_zones())
_CORE = {f.path: f for f in CORE_FACTS}
_WEIRD_STRINGS = ["", " ", "\u00e9", "\u2192", "\ud800", "\x00", "P1 ", "p1", "a" * 70_000,
                  "\ufeff", "NaN", "null", "1e400", "🙂", "\u202e", "P" * 300]
weird_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
    st.sampled_from(_WEIRD_STRINGS), st.text(max_size=30))
weird_values = st.recursive(weird_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


@st.composite
def timestamps(draw) -> str:
    """RFC 3339 text, valid or nearly so: any year 1800–3100, offsets, fraction digits."""
    year = draw(st.integers(1800, 3100))
    moment = datetime(2000, 1, 1, tzinfo=UTC) + timedelta(
        seconds=draw(st.integers(0, 366 * 86400 - 1)))
    text = f"{year:04d}-{moment:%m-%dT%H:%M:%S}"
    digits = draw(st.integers(0, 14))
    if digits:
        text += "." + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits,
                                            max_size=digits)))
    return text + draw(st.sampled_from(["Z", "z", "+01:00", "-14:00", "+23:59", "+24:00", "",
                                        "+05:45", "-00:30"]))


@st.composite
def valid_timestamps(draw, start: datetime | None = None) -> str:
    """An RFC 3339 instant in the supported years (after `start`), at some offset."""
    lo = start or datetime(1900, 1, 2, tzinfo=UTC)
    moment = lo + timedelta(seconds=draw(st.integers(0, 3 * 366 * 86400 if start else
                                                     int(1099 * 365.2 * 86400))),
                            microseconds=draw(st.integers(0, 999_999)))
    offset = timezone(timedelta(minutes=15 * draw(st.integers(-48, 56))))
    return moment.astimezone(offset).isoformat()


def _valid_value(draw, spec, policy) -> object:
    if spec.type == "level":
        return draw(st.sampled_from(policy.levels))
    if spec.type == "plan":
        return draw(st.sampled_from(tuple(policy.plans) or ("none",)))
    if spec.type == "boolean":
        return draw(st.booleans())
    if spec.type == "timezone":
        return draw(st.sampled_from(ZONES))
    if spec.type == "country":
        return draw(st.sampled_from(["DE", "SK", "VN", "US", "PL", "NL"]))
    if spec.type == "targets":
        return {lvl: draw(st.sampled_from(["PT1M", "PT4H", "P1D", "P365D", "PT8760H",
                                           "P1W", "PT0.5S"]))
                for lvl in policy.levels if draw(st.booleans())}
    if spec.type == "timestamp":
        return draw(valid_timestamps())
    if spec.enum:
        return draw(st.sampled_from(spec.enum))
    if spec.type in ("integer", "number"):
        return draw(st.integers(-10**6, 10**6))
    return draw(st.text(min_size=1, max_size=20))


@st.composite
def tickets(draw, cp, hostile: float = 0.3, paths: tuple[str, ...] = ()) -> dict:
    """A ticket for a compiled policy: every fact it reads (and `paths`) valid, absent or (with
    probability `hostile`) a hostile value; hostile top-level keys and shapes too."""
    policy = cp.policy
    t: dict = {"id": draw(st.text(min_size=1, max_size=12)) if hostile else
               f"F-{draw(st.integers(0, 10**6))}",
               "submitted_at": draw(timestamps()) if hostile else draw(valid_timestamps())}
    for path in sorted(set(cp.key_paths) | set(paths) | {"customer.timezone",
                                                         "first_response_at"}):
        spec = policy.facts.get(path) or _CORE.get(path)
        if spec is None:
            continue
        choice = draw(st.floats(0, 1))
        if choice < 0.3:
            continue
        value = draw(weird_values) if choice > 1 - hostile else _valid_value(draw, spec, policy)
        *parents, leaf = path.split(".")
        node = t
        for p in parents:
            nxt = node.setdefault(p, {})
            if not isinstance(nxt, dict):
                break
            node = nxt
        else:
            node[leaf] = value
    if not hostile and "first_response_at" in t:  # after the submission, as checked
        t["first_response_at"] = (datetime.fromisoformat(t["submitted_at"]) + timedelta(
            seconds=draw(st.integers(0, 10**7)))).isoformat()
    if draw(st.floats(0, 1)) < hostile:
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(["id", "submitted_at", "customer", "contract", "junk",
                                        "plan", "environment", "\u00e9", ""]))
            t[key] = draw(weird_values)
    return t


@st.composite
def ticket_bytes(draw, cp) -> bytes:
    """Ticket input as bytes: JSON of a generated ticket (valid, a little or very hostile),
    possibly mangled."""
    t = draw(tickets(cp, hostile=draw(st.sampled_from([0.0, 0.05, 0.3]))))
    text = json.dumps(t, ensure_ascii=draw(st.booleans()), allow_nan=True)
    raw = text.encode("utf-8", "surrogatepass")
    mangle = draw(st.sampled_from(["none", "none", "bom", "bom2", "truncate", "bytes",
                                   "dupkey", "deep", "latin1"]))
    if mangle == "bom":
        raw = b"\xef\xbb\xbf" + raw
    elif mangle == "bom2":
        raw = b"\xef\xbb\xbf" * 2 + raw
    elif mangle == "truncate":
        raw = raw[:draw(st.integers(0, len(raw)))]
    elif mangle == "bytes":
        raw = draw(st.binary(max_size=64)) + raw[draw(st.integers(0, len(raw))):]
    elif mangle == "dupkey":
        raw = raw.replace(b"{", b'{"id": "dup", ', 1)
    elif mangle == "deep":
        depth = draw(st.integers(1, 3000))
        raw = raw[:-1] + b', "x": ' + b"[" * depth + b"]" * depth + b"}"
    elif mangle == "latin1":
        raw = text.encode("latin-1", "replace")
    return raw


def now_values() -> st.SearchStrategy:
    return st.one_of(st.none(), timestamps())


# ---- policy mutants ------------------------------------------------------------------------

_OPS = ("eq", "ne", "in", "not_in", "present")


@st.composite
def conditions(draw, policy_data: dict, depth: int = 0) -> dict:
    """A `when` over the core facts and the policy's levels and plans."""
    levels = policy_data["levels"]
    plans = list(policy_data.get("plans", {})) or ["x"]
    facts = {"environment": ["production", "staging", "development"],
             "category": ["outage", "degradation", "defect", "how_to", "question",
                          "feature_request"],
             "impact": ["high", "medium", "low"], "urgency": ["high", "medium", "low"],
             "product_stage": ["ga", "beta", "preview"],
             "customer.segment": ["customer", "trial", "community"],
             "requested_priority": levels, "agent_priority": levels, "priority": levels,
             "plan": plans, "entitlement.plan": plans}
    if depth < 2 and draw(st.floats(0, 1)) < 0.25:
        kind = draw(st.sampled_from(["all", "any", "not"]))
        if kind == "not":
            return {"not": draw(conditions(policy_data, depth + 1))}
        return {kind: draw(st.lists(conditions(policy_data, depth + 1), min_size=1,
                                    max_size=3))}
    out: dict = {}
    for path in draw(st.lists(st.sampled_from(sorted(facts)), min_size=1, max_size=3,
                              unique=True)):
        values = facts[path]
        op = draw(st.sampled_from(_OPS))
        if op == "eq":
            out[path] = draw(st.sampled_from(values))
        elif op == "present":
            out[path] = {"present": draw(st.booleans())}
        elif op == "ne":
            out[path] = {"ne": draw(st.sampled_from(values))}
        else:
            chosen = draw(st.lists(st.sampled_from(values), min_size=1, unique=True))
            out[path] = chosen if op == "in" and draw(st.booleans()) else {op: chosen}
    return out


@st.composite
def actions(draw, policy_data: dict) -> dict:
    levels = policy_data["levels"]
    plans = list(policy_data.get("plans", {}))
    options = [
        {"assign": draw(st.sampled_from(levels))}, {"default": draw(st.sampled_from(levels))},
        {"assign": {"fact": "requested_priority"}}, {"reclassify": {"down": 1}},
        {"reclassify": {"up": draw(st.integers(1, 3))}},
        {"reclassify": draw(st.sampled_from(levels))},
        {"note": draw(st.text(min_size=1, max_size=10))}, {"no_guarantee": "fuzz"},
        {"target": draw(st.sampled_from(["PT1H", "PT30M", "P1D"]))},
        {"offer_channels": ["email"]}, {"withhold_channels": ["portal"]},
    ] + ([{"use_plan": draw(st.sampled_from(plans))}] if plans else [])
    return draw(st.sampled_from(options))


@st.composite
def policy_mutants(draw) -> tuple[str, str]:
    """(policy id, YAML text): a bundled policy with generated rules, copies of its rules at
    sizes around the engine's limits, and odd saliences, stages, groups and repeats."""
    pid = draw(st.sampled_from(BUNDLED))
    data = yaml.safe_load(bundled_text(pid))
    rules = data["rules"]
    added = []
    odd = draw(st.floats(0, 1)) < 0.2   # saliences the schema or the engine may reject
    for i in range(draw(st.integers(0, 12))):
        rule: dict = {"id": f"fuzz-{i}", "then": draw(actions(data))}
        if draw(st.booleans()):
            rule["when"] = draw(conditions(data))
        if draw(st.floats(0, 1)) < 0.3:
            rule["salience"] = draw(st.sampled_from([1.0, -3.0, 499.0, 1.5, 600, True, "2"])
                                    if odd else st.integers(-500, 499))
        if draw(st.floats(0, 1)) < 0.2:
            rule["repeat"] = True
        if draw(st.floats(0, 1)) < 0.2:
            rule["group"] = draw(st.sampled_from(["g1", "g2"]))
        if draw(st.floats(0, 1)) < 0.2:
            rule["stage"] = draw(st.sampled_from(["assign", "default", "override",
                                                  "reclassify", "final", "entitle",
                                                  "target"]))
        added.append(rule)
    if draw(st.floats(0, 1)) < 0.5:  # many copies of one rule: the engine's sizes
        template = draw(st.sampled_from(rules + added)) if rules + added else None
        if template is not None:
            n = draw(st.sampled_from([30, 58, 59, 63, 64, 65, 126, 128, 200, 254, 255, 256,
                                      257, 300, 510, 512, 600]))
            for i in range(n):
                copy = dict(template, id=f"copy-{i}")
                copy.pop("group", None)
                added.append(copy)
    position = draw(st.integers(0, len(rules)))
    data["rules"] = rules[:position] + added + rules[position:]
    if draw(st.floats(0, 1)) < 0.2:
        data["max_firings"] = draw(st.integers(1, 300))
    return pid, dump_yaml(data)


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data) -> bool:  # the loader rejects anchors and aliases
        return True


def dump_yaml(data) -> str:
    return yaml.dump(data, Dumper=_NoAliases, allow_unicode=True, sort_keys=False)


# ---- a worker process for work that might hang or crash --------------------------------------

WORKER = r"""
import json, sys, traceback
from engine import app
from engine.check.files import check_file
from engine.compile.compiler import compile_policy
from engine.core.diagnostics import DiagnosticError
from engine.run.errors import EvaluationError, TicketError
from engine.run.evaluator import Evaluator

def run(job):
    path = job["policy"]
    report = app.check_paths([path], lint=False)
    errors = [d.to_json() for d in report.diagnostics if d.severity == "error"]
    out = {"errors": errors, "results": []}
    if errors:
        return out
    model, _ = check_file(path)
    cp = compile_policy(model)
    warm, cold = Evaluator(), Evaluator()
    for ticket, now in job["tickets"]:
        row = {}
        for name, evaluator, cache in (("warm", warm, True), ("cold", cold, False)):
            try:
                row[name] = evaluator.evaluate(cp, ticket, cache=cache).to_json()
            except TicketError as exc:
                row[name] = {"ticket_error": sorted(d.code for d in exc.diagnostics)}
            except EvaluationError as exc:
                row[name] = {"failed": exc.code, "message": str(exc)}
        out["results"].append(row)
    return out

for line in sys.stdin:
    try:
        reply = run(json.loads(line))
    except BaseException:
        reply = {"exception": traceback.format_exc()}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
"""


class Worker:
    """A child process that checks a policy file and evaluates tickets on it, each job within
    a time bound; a hang or a crash is reported, and the next job gets a fresh process."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            env = {**os.environ, "PYTHONPATH": str(ROOT)}
            self.stderr = tempfile.TemporaryFile()  # a pipe could fill up and block it
            self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self.stderr,
                                         cwd=ROOT, env=env, text=True, bufsize=1)
        return self.proc

    def run(self, policy_path: str, tickets: list, timeout: float) -> dict:
        proc = self._start()
        proc.stdin.write(json.dumps({"policy": policy_path, "tickets": tickets}) + "\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], timeout)
        if not ready:
            self.close()
            return {"hang": timeout}
        line = proc.stdout.readline()
        if not line:
            code = proc.wait()
            self.stderr.seek(0)
            stderr = self.stderr.read().decode("utf-8", "replace")
            self.proc = None
            return {"crash": code, "stderr": stderr[-2000:]}
        return json.loads(line)

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def timed(fn, *args, **kwargs):
    """fn's result and the seconds it took."""
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start
