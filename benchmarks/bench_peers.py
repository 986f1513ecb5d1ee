"""ticket-policy beside other rule engines on the same decisions, in one run (issue 16).

    pip install -e '.[bench]'      # zen-engine and clipspy; a peer not installed is skipped
    python benchmarks/bench_peers.py [--tickets 20000] [--reps 3] [--seed 1]

The bundled `cloudtalk` policy — customer-chosen priority or P3, P1/P2 outside production and
P1 how-to questions reclassified to P3, the agent's level applied last, beta and preview
products and the Basic plan without a guarantee, per-plan targets on business hours or around
the clock — is written once more for each peer: as a GoRules zen-engine graph of chained
decision tables (Rust), as CLIPS 6.4 rules (clipspy; a deffunction resets, asserts the ticket,
runs and returns the outcome, one call per ticket), and as
hand-written Python (the limit). Every system decides the same tickets (bench_evaluate's
realistic corpus: Zipf-distributed categorical facts) and must return the same priority, the
same rules in the same order and the same target (hours and clock) for every ticket; the run
stops on the first difference. Only ticket-policy also validates the ticket, writes the trace
with citations and computes the due time on the business-hours calendar.

Rows (tickets/s, median of `--reps` runs; the systems take turns on chunks of 1,000 tickets so
machine drift hits all alike):
- ticket-policy hit path: `engine.evaluate` once the decision cache has seen the corpus;
- ticket-policy + to_json_bytes: the hit path and the decision's canonical JSON bytes, once
  the cache has seen the corpus written (an outcome's encoded parts are kept with it);
- ticket-policy from an empty cache: the corpus once, the cache cleared first (not chunked);
  and the same with each decision's JSON bytes (each cached outcome encoded the first time);
- ticket-policy, cache=False: every ticket through durable_rules;
- serialization: `Decision.to_json_bytes()` beside msgspec and orjson encoding `to_json()`;
  `engine.evaluate`'s decisions carry the timeline's history and clocks, a run-stage
  decision (`Evaluator.evaluate`, one snapshot) does not.
Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_evaluate import generate, measure, set_aside, summary  # noqa: E402

from engine import evaluate, load_policy  # noqa: E402
from engine.run.evaluator import clear_cache, default_evaluator  # noqa: E402

CHUNK = 1000
FIELDS = ("requested_priority", "agent_priority", "environment", "category", "product_stage",
          "plan")
# (plan, level) -> (hours, clock) — cloudtalk's plans
TARGETS = {("professional", "P1"): (3, "business"), ("professional", "P2"): (6, "business"),
           ("professional", "P3"): (9, "business"), ("advanced", "P1"): (1, "calendar"),
           ("advanced", "P2"): (3, "business"), ("advanced", "P3"): (6, "business")}
NOT_PRODUCTION = ("staging", "development")
GENERAL = ("how_to", "question", "feature_request")
Result = tuple[str | None, tuple[str, ...], tuple[int, str] | None]


def flat(t: dict) -> dict:
    """The facts the peers read, absent ones as None (every peer gets them so)."""
    return {f: t.get(f) for f in FIELDS}


def ours(cp) -> Callable[[dict], Result]:
    def decide(t: dict) -> Result:
        d = evaluate(cp, t)
        sla = d.sla
        return (d.priority, tuple(e.rule for e in d.trace if e.rule),
                None if sla is None else (int(sla.target.total_seconds()) // 3600, sla.clock))
    return decide


def plain(t: dict) -> Result:
    """cloudtalk by hand: the reference the others must match."""
    f = flat(t)
    fired = []
    level = f["requested_priority"]
    if level is None:
        level = "P3"
        fired.append("no-priority-defaults-to-p3")
    else:
        fired.append("customer-chosen-priority")
    env = f["environment"]
    if level == "P1" and env in NOT_PRODUCTION:
        level = "P3"
        fired.append("p1-production-only")
    elif level == "P2" and env in NOT_PRODUCTION:
        level = "P3"
        fired.append("p2-not-for-staging-or-development")
    if level == "P1" and f["category"] in GENERAL:
        level = "P3"
        fired.append("p1-how-to-is-general")
    if f["agent_priority"] is not None:
        level = f["agent_priority"]
        fired.append("agent-reclassification")
    plan, beta = f["plan"], f["product_stage"] in ("beta", "preview")
    if plan == "basic":
        fired.append("plans.basic.no-guarantee")
    if beta:
        fired.append("beta-and-preview-not-guaranteed")
    fired.append("help-center-web-form")
    target = TARGETS.get((plan, level)) if not beta and plan != "basic" else None
    if target is not None:
        fired.append(f"plans.{plan}.{level}")
    return level, tuple(fired), target


# --------------------------------------------------------------------------- zen-engine

def _table(name: str, inputs: list[str], outputs: list[str], rows: list) -> dict:
    """A first-hit decision table that passes its input through."""
    return {"id": name, "name": name, "type": "decisionTableNode", "position": {"x": 0, "y": 0},
            "content": {"hitPolicy": "first", "passThrough": True, "inputField": None,
                        "outputPath": None, "executionMode": "single",
                        "inputs": [{"id": f"{name}-in-{f}", "name": f, "field": f}
                                   for f in inputs],
                        "outputs": [{"id": f"{name}-out-{f}", "name": f, "field": f}
                                    for f in outputs],
                        "rules": [{"_id": f"{name}-{n}", **_cells(name, "in", inputs, when),
                                   **_cells(name, "out", outputs, then)}
                                  for n, (when, then) in enumerate(rows)]}}


def _cells(table: str, side: str, fields: list[str], cells: list[str]) -> dict:
    return {f"{table}-{side}-{f}": c for f, c in zip(fields, cells, strict=True)}


def zen_graph() -> dict:
    """cloudtalk as four chained tables: level, reclassification, agent, guarantee/target."""
    np = "'staging', 'development'"
    tables = [
        _table("level", ["requested_priority"], ["level", "r1"], [
            (["null"], ["'P3'", "'no-priority-defaults-to-p3'"]),
            ([""], ["requested_priority", "'customer-chosen-priority'"])]),
        _table("reclassify", ["level", "environment", "category"], ["level", "r2", "r3"], [
            (["'P1'", np, ""], ["'P3'", "'p1-production-only'", "null"]),
            (["'P2'", np, ""], ["'P3'", "'p2-not-for-staging-or-development'", "null"]),
            (["'P1'", "", "'how_to', 'question', 'feature_request'"],
             ["'P3'", "null", "'p1-how-to-is-general'"]),
            (["", "", ""], ["level", "null", "null"])]),
        _table("agent", ["agent_priority"], ["level", "r4"], [
            (["null"], ["level", "null"]),
            ([""], ["agent_priority", "'agent-reclassification'"])]),
        _table("guarantee", ["plan", "product_stage", "level"],
               ["basic", "beta", "hours", "clock"], [
            (["'basic'", "'beta', 'preview'", ""], ["true", "true", "null", "null"]),
            (["'basic'", "", ""], ["true", "false", "null", "null"]),
            (["", "'beta', 'preview'", ""], ["false", "true", "null", "null"]),
            *[([f"'{p}'", "", f"'{lvl}'"], ["false", "false", str(h), f"'{c}'"])
              for (p, lvl), (h, c) in TARGETS.items()],
            (["", "", ""], ["false", "false", "null", "null"])]),
    ]
    nodes = [{"id": "in", "name": "in", "type": "inputNode", "position": {"x": 0, "y": 0}},
             *tables,
             {"id": "out", "name": "out", "type": "outputNode", "position": {"x": 0, "y": 0}}]
    order = ["in", *(t["id"] for t in tables), "out"]
    edges = [{"id": f"e{i}", "type": "edge", "sourceId": a, "targetId": b}
             for i, (a, b) in enumerate(zip(order, order[1:], strict=False))]
    return {"nodes": nodes, "edges": edges}


def zen_decide() -> Callable[[dict], Result] | None:
    try:
        import zen
    except ImportError:
        return None
    engine = zen.ZenEngine({"loader": {"type": "static",
                                       "content": {"cloudtalk": zen_graph()}}})
    run = engine.evaluate

    def decide(t: dict) -> Result:
        r = run("cloudtalk", flat(t))["result"]
        get = r.get  # a null output is left out of the result
        fired = [x for x in (get("r1"), get("r2"), get("r3"), get("r4")) if x]
        if get("basic"):
            fired.append("plans.basic.no-guarantee")
        if get("beta"):
            fired.append("beta-and-preview-not-guaranteed")
        fired.append("help-center-web-form")
        hours = get("hours")
        if hours is not None:
            fired.append(f"plans.{r['plan']}.{r['level']}")
        return get("level"), tuple(fired), None if hours is None else (int(hours), r["clock"])
    return decide


# --------------------------------------------------------------------------- CLIPS

CLIPS_RULES = """
(deftemplate ticket (slot requested) (slot agent) (slot environment) (slot category)
  (slot stage) (slot plan))
(deftemplate level (slot value))
(deftemplate final)
(defglobal ?*fired* = (create$) ?*level* = nil ?*hours* = nil ?*clock* = nil)
(deffunction fire (?rule) (bind ?*fired* (create$ ?*fired* ?rule)))
(defrule chosen (declare (salience 90)) (ticket (requested ?r&~nil)) =>
  (assert (level (value ?r))) (fire customer-chosen-priority))
(defrule default (declare (salience 90)) (ticket (requested nil)) =>
  (assert (level (value P3))) (fire no-priority-defaults-to-p3))
(defrule p1-production (declare (salience 80)) (ticket (environment staging|development))
  (not (final)) ?l <- (level (value P1)) => (modify ?l (value P3)) (fire p1-production-only))
(defrule p2-production (declare (salience 80)) (ticket (environment staging|development))
  (not (final)) ?l <- (level (value P2)) =>
  (modify ?l (value P3)) (fire p2-not-for-staging-or-development))
(defrule p1-general (declare (salience 70)) (ticket (category how_to|question|feature_request))
  (not (final)) ?l <- (level (value P1)) => (modify ?l (value P3)) (fire p1-how-to-is-general))
(defrule agent (declare (salience 60)) (ticket (agent ?a&~nil)) (not (final)) ?l <- (level) =>
  (assert (final)) (modify ?l (value ?a)) (fire agent-reclassification))
(defrule basic (declare (salience 50)) (ticket (plan basic)) => (fire plans.basic.no-guarantee))
(defrule beta (declare (salience 40)) (ticket (stage beta|preview)) =>
  (fire beta-and-preview-not-guaranteed))
(defrule portal (declare (salience 30)) (ticket) => (fire help-center-web-form))
(defrule decided (declare (salience -100)) (level (value ?v)) => (bind ?*level* ?v))
(deffunction decide (?requested ?agent ?environment ?category ?stage ?plan)
  (reset)
  (assert (ticket (requested ?requested) (agent ?agent) (environment ?environment)
                  (category ?category) (stage ?stage) (plan ?plan)))
  (run)
  (create$ ?*level* ?*hours* ?*clock* ?*fired*))
"""


def clips_decide() -> Callable[[dict], Result] | None:
    try:
        import clips
    except ImportError:
        return None
    env = clips.Environment()
    targets = " ".join(f"(defrule {p}-{lvl} (declare (salience 20)) "
                       f"(ticket (plan {p}) (stage ~beta&~preview)) (level (value {lvl})) => "
                       f"(bind ?*hours* {h}) (bind ?*clock* {c}) (fire plans.{p}.{lvl}))"
                       for (p, lvl), (h, c) in TARGETS.items())
    for construct in _constructs(CLIPS_RULES + targets):
        env.build(construct)
    run = env.find_function("decide")  # one call per ticket: clipspy's fact API per slot
    symbols: dict = {None: clips.Symbol("nil")}  # is slow, and slows as tickets go by

    def sym(value: str | None):
        found = symbols.get(value)
        if found is None:
            found = symbols[value] = clips.Symbol(value)
        return found

    def decide(t: dict, env=env) -> Result:  # the environment lives as long as `decide`
        g = t.get
        level, hours, clock, *fired = run(
            sym(g("requested_priority")), sym(g("agent_priority")), sym(g("environment")),
            sym(g("category")), sym(g("product_stage")), sym(g("plan")))
        return (str(level), tuple(map(str, fired)),
                None if hours == "nil" else (int(hours), str(clock)))
    return decide


def _constructs(text: str) -> list[str]:
    """Top-level parenthesised forms of a CLIPS text."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "(":
            if depth == 0:
                start = i
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                out.append(text[start:i + 1])
    return out


# --------------------------------------------------------------------------- the run

def verify(systems: dict[str, Callable[[dict], Result]], tickets: list[dict]) -> None:
    for i, t in enumerate(tickets):
        expected = plain(t)
        for name, decide in systems.items():
            got = decide(t)
            if got != expected:
                raise SystemExit(f"{name} differs on ticket {i}: {got} != {expected}\n{t}")


def serialization(cp, tickets: list[dict], reps: int) -> list[str]:
    """µs per decision: to_json_bytes (canonical, pretty) beside encoding to_json() whole."""
    import msgspec
    import orjson

    decisions = [evaluate(cp, t) for t in tickets[:5000]]
    for d in decisions:
        d.to_json_bytes()  # history and clocks, computed when first read, are not timed
    sorted_msgspec = msgspec.json.Encoder(order="sorted").encode
    run_stage = default_evaluator().evaluate
    snapshots = {id(d): run_stage(cp, t) for d, t in zip(decisions, tickets[:5000], strict=True)}
    ways = {
        "Decision.to_json_bytes()": lambda d: d.to_json_bytes(),
        "  the same, run stage (no clocks)": lambda d: snapshots[id(d)].to_json_bytes(),
        "Decision.to_json_bytes(pretty=True)": lambda d: d.to_json_bytes(pretty=True),
        "msgspec (sorted) of to_json()": lambda d: sorted_msgspec(d.to_json()),
        "orjson OPT_SORT_KEYS of to_json()": lambda d: orjson.dumps(
            d.to_json(), option=orjson.OPT_SORT_KEYS),
        "json module, canonical, of to_json()": lambda d: json.dumps(
            d.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(),
    }
    figures: dict[str, list[float]] = {k: [] for k in ways}
    for _ in range(reps):
        for name, fn in ways.items():
            figures[name].append(summary(measure(fn, decisions))[1])
    return [f"  {name:<38} p50 {statistics.median(v):6.2f} µs" for name, v in figures.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickets", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    cp = load_policy("cloudtalk")
    tickets = generate(cp, args.tickets, random.Random(args.seed))
    mine = ours(cp)
    peers = {"zen-engine (Rust, decision tables)": zen_decide(),
             "CLIPS 6.4 via clipspy": clips_decide()}
    missing = [name for name, fn in peers.items() if fn is None]
    systems: dict[str, Callable[[dict], object]] = {
        "plain Python (the limit)": plain,
        "ticket-policy, hit path": mine,
        "ticket-policy + to_json_bytes": lambda t: evaluate(cp, t).to_json_bytes(),
        **{name: fn for name, fn in peers.items() if fn is not None},
        "ticket-policy, cache=False": lambda t: evaluate(cp, t, cache=False),
    }
    verify({"ticket-policy": mine, **{n: f for n, f in peers.items() if f is not None}},
           tickets)
    print(f"{args.tickets:,} cloudtalk tickets, every system's decisions equal; "
          f"{args.reps} reps, median; Python {sys.version.split()[0]}")
    for t in tickets:   # the steady state: every decision of the corpus made and written once
        evaluate(cp, t).to_json_bytes()
    set_aside()   # every system timed on its own allocations, not on the harness's corpus
    rates: dict[str, list[float]] = {name: [] for name in systems}
    p50s: dict[str, list[float]] = {name: [] for name in systems}
    empty: dict[str, list[float]] = {"ticket-policy, from an empty cache": [],
                                     "  the same + to_json_bytes": []}
    for _ in range(args.reps):
        timings: dict[str, list[float]] = {name: [] for name in systems}
        for lo in range(0, len(tickets), CHUNK):
            for name, fn in systems.items():
                timings[name] += measure(fn, tickets[lo:lo + CHUNK])
        for name, t in timings.items():
            rate, p50, _ = summary(t)
            rates[name].append(rate)
            p50s[name].append(p50)
        for row, times in empty.items():   # the last one leaves the steady state again
            clear_cache()
            start = time.perf_counter()
            for t in tickets:
                d = evaluate(cp, t)
                if row.endswith("to_json_bytes"):
                    d.to_json_bytes()
            times.append(len(tickets) / (time.perf_counter() - start))
    rows = sorted(((statistics.median(rates[n]), statistics.median(p50s[n]), n)
                   for n in systems), reverse=True)
    zen = next(((r, p) for r, p, n in rows if n.startswith("zen")), None)
    print(f"{'system':<40} {'tickets/s':>11} {'p50 µs':>8} {'÷ zen':>7} {'p50 ÷ zen':>10}")
    for rate, p50, name in rows:  # on a shared machine the p50 ratio is the steadier one
        ratio = f"{rate / zen[0]:6.2f}x {zen[1] / p50:9.2f}x" if zen else ""
        print(f"{name:<40} {rate:>11,.0f} {p50:>8.1f} {ratio}")
    for row, times in empty.items():
        print(f"{row:<40} {statistics.median(times):>11,.0f}")
    if missing:
        print(f"not installed (pip install -e '.[bench]'): {', '.join(missing)}")
    print("serialization of a decision (the hit path's decisions):")
    for line in serialization(cp, tickets, args.reps):
        print(line)


if __name__ == "__main__":
    main()
