"""The web UI's cost next to the API's, in one run: how much a page adds to a decision.

    python benchmarks/bench_ui.py [--rounds 7] [--requests 200]

In-process over the ASGI app (httpx's ASGI transport: no sockets, so the figures are the app's
own work), alternating rounds of the same tickets (rules/cloudtalk/tests/*.yaml, round robin):

- api:      POST /v1/policies/cloudtalk/decisions?explain=text (the decision and its story);
- ui-try:   POST /ui/try with the ticket as JSON (decision, story, why-not of every rule that
            did not fire, clock pictures, the page rendered by Jinja2);
- ui-page:  GET /ui/policies/cloudtalk (the policy view: no evaluation).

Printed: the median time per request of each over the rounds, and ui-try/api. Goal: a "try a
ticket" page within 4x an explained API decision (it explains every rule that did not fire).
Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.adapters.service import ServiceConfig, create_app  # noqa: E402


def _tickets() -> list[dict]:
    out = []
    for path in sorted((ROOT / "rules" / "cloudtalk" / "tests").glob("*.yaml")):
        for case in yaml.safe_load(path.read_text("utf-8"))["cases"]:
            if isinstance(case.get("ticket"), dict) and "error" not in case.get("expect", {}):
                out.append(case["ticket"])
    return out


async def _run(rounds: int, requests: int) -> dict[str, list[float]]:
    app = create_app(ServiceConfig(policies=("cloudtalk",)))
    assert app.service.load().accepted
    bodies = [json.dumps(t, default=str) for t in _tickets()]
    times: dict[str, list[float]] = {"api": [], "ui-try": [], "ui-page": []}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                 base_url="http://bench") as c:

        async def api(body: str) -> httpx.Response:
            return await c.post("/v1/policies/cloudtalk/decisions?explain=text", content=body,
                                headers={"Content-Type": "application/json"})

        async def ui_try(body: str) -> httpx.Response:
            return await c.post("/ui/try", data={"policy": "cloudtalk", "mode": "json",
                                                 "json": body})

        async def ui_page(body: str) -> httpx.Response:
            return await c.get("/ui/policies/cloudtalk")

        kinds = {"api": api, "ui-try": ui_try, "ui-page": ui_page}
        for fn in kinds.values():   # warm up: compile, caches, templates
            for body in bodies:
                assert (await fn(body)).status_code == 200
        for r in range(rounds):
            order = list(kinds) if r % 2 == 0 else list(reversed(kinds))
            for name in order:
                start = time.perf_counter()
                for i in range(requests):
                    await kinds[name](bodies[i % len(bodies)])
                times[name].append((time.perf_counter() - start) / requests)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    times = asyncio.run(_run(args.rounds, args.requests))
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, value in med.items():
        print(f"{name:8} {value * 1000:7.2f} ms/request (median of {args.rounds} rounds)")
    print(f"ui-try/api {med['ui-try'] / med['api']:.2f}x")


if __name__ == "__main__":
    main()
