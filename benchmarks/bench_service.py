"""The decision service under load: POST decisions next to the HTTP floor, in one run.

    python benchmarks/bench_service.py [--seconds 5] [--rounds 3] [--connections 32]
                                       [--workers 2] [--client auto|wrk|python] [--no-log]

Starts `ticket-policy serve --echo --workers 2 --port 0` on 127.0.0.1 (loopback only), and a
second one with `--log` (a decision log in a temporary folder, unless --no-log), warms them up,
then drives, in alternating rounds (medians are printed):

- echo:      POST /v1/echo with the corpus's tickets (parse the JSON body, return it: the HTTP
             floor of this stack on this machine);
- decisions: POST /v1/policies/{id}/decisions with the same tickets, each to its policy — a
             realistic corpus (bench_evaluate's Zipf-distributed facts, random times and zones)
             of 500 tickets per bundled policy;
- logged:    the same decisions from the server with `--log` (each durable in the log before
             it is answered: one writer connection per worker, concurrent requests of a worker
             group-committed, the workers taking turns on SQLite's write lock).

The load generator is wrk (`apt-get install wrk`) when it is installed, else a bounded asyncio
client in this file; both keep `--connections` keep-alive connections busy for `--seconds`.
Printed: req/s, p50 and p99 latency, the server's CPU time per request (its processes' CPU
seconds over the requests answered: robust to other load on a shared machine), and
decisions/echo and logged/decisions. Goals: decisions >= 70% of echo,
p99 < 10 ms at 32 connections. Not a test: the figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_evaluate import generate  # noqa: E402

from engine import bundled, load_policy  # noqa: E402


def corpus(per_policy: int, seed: int) -> list[tuple[str, bytes]]:
    """(policy id, ticket JSON) pairs, policies interleaved."""
    rnd = random.Random(seed)
    by_policy = {pid: generate(load_policy(pid), per_policy, rnd) for pid in bundled()}
    out = []
    for i in range(per_policy):
        for pid, tickets in by_policy.items():
            out.append((pid, json.dumps(tickets[i]).encode()))
    return out


def start_server(workers: int, *extra: str) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(ROOT / "cli.py"), "serve", "--port", "0",
                             "--workers", str(workers), "--echo", *extra], cwd=ROOT,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    deadline = time.monotonic() + 60
    url = None
    while url is None and time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit("the server exited before listening")
        event = json.loads(line)
        if event.get("message") == "listening":
            url = event["url"]
    threading_drain(proc)
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            time.sleep(0.2)
    return proc, url


def server_cpu(pid: int) -> float:
    """CPU seconds used so far by `pid` and its descendants (the supervisor and its workers):
    a measure of the server's cost per request that other load on the machine does not skew."""
    ticks = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / ticks
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue
    return total


def threading_drain(proc: subprocess.Popen) -> None:
    """Keep reading the server's log so its pipe never fills."""
    import threading

    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()


# ---------------------------------------------------------------------------- wrk


def run_wrk(url: str, requests: list[tuple[str, bytes]], seconds: int, connections: int,
            workdir: Path) -> dict:
    script = workdir / "requests.lua"
    lines = ["local reqs = {}", "local n = 0"]
    for path, body in requests:
        headers = "{['Host'] = 'localhost', ['Content-Type'] = 'application/json'}"
        lines.append(f"n = n + 1; reqs[n] = wrk.format('POST', '{path}', {headers}, "
                     f"[==[{body.decode()}]==])")
    lines += ["local i = 0", "request = function()", "  i = i % n + 1", "  return reqs[i]",
              "end",
              "done = function(summary, latency, requests)",
              "  io.write(string.format('STATUS errors=%d non2xx=%d\\n', summary.errors.status"
              " + summary.errors.connect + summary.errors.read + summary.errors.write"
              " + summary.errors.timeout, summary.errors.status))",
              "end"]
    script.write_text("\n".join(lines))
    out = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s",
                          "--latency", "-s", str(script), url], capture_output=True, text=True,
                         check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {m.group(1): _ms(m.group(2)) for m in re.finditer(r"^\s+(50|99)%\s+(\S+)$", out, re.M)}
    errors = int(re.search(r"STATUS errors=(\d+)", out).group(1))
    return {"rate": rate, "p50": pct["50"], "p99": pct["99"], "errors": errors}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


# ---------------------------------------------------------------------------- python client


async def _connection(host: str, port: int, requests: list[bytes], offset: int, until: float,
                      latencies: list[float], errors: list[int]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    clock = time.perf_counter
    try:
        while clock() < until:
            start = clock()
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length:\s*(\d+)", head).group(1))
            await reader.readexactly(length)
            latencies.append(clock() - start)
            if not head.startswith(b"HTTP/1.1 2"):
                errors.append(1)
            i += 1
    finally:
        writer.close()


def run_python(url: str, requests: list[tuple[str, bytes]], seconds: int,
               connections: int) -> dict:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    raw = [(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body for path, body in requests]
    latencies: list[float] = []
    errors: list[int] = []

    async def main():
        until = time.perf_counter() + seconds
        await asyncio.gather(*(_connection(host, int(port), raw, k * 97, until, latencies,
                                           errors) for k in range(connections)))

    start = time.perf_counter()
    asyncio.run(main())
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {"rate": len(latencies) / elapsed, "p50": latencies[len(latencies) // 2] * 1e3,
            "p99": latencies[int(len(latencies) * 0.99)] * 1e3, "errors": len(errors)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=int, default=5, help="per round and endpoint")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tickets", type=int, default=500, help="per bundled policy")
    ap.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-log", dest="log", action="store_false",
                    help="skip the server with --log")
    args = ap.parse_args()
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    pairs = corpus(args.tickets, args.seed)
    runs = {"echo": [("/v1/echo", body) for _, body in pairs],
            "decisions": [(f"/v1/policies/{pid}/decisions", body) for pid, body in pairs]}
    decisions = runs["decisions"]
    with tempfile.TemporaryDirectory() as tmp:
        servers = {"echo": start_server(args.workers), "decisions": None}
        servers["decisions"] = servers["echo"]
        if args.log:
            runs["logged"] = decisions
            servers["logged"] = start_server(args.workers, "--log", str(Path(tmp) / "log.db"))
        try:
            def drive(name, seconds):
                proc, url = servers[name]
                cpu = server_cpu(proc.pid)
                if client == "wrk":
                    r = run_wrk(url, runs[name], seconds, args.connections, Path(tmp))
                else:
                    r = run_python(url, runs[name], seconds, args.connections)
                r["cpu_us"] = (server_cpu(proc.pid) - cpu) / (r["rate"] * seconds) * 1e6
                return r

            for name in runs:  # warm up: rulesets registered, caches filled
                drive(name, 2)
            # alternate short rounds, so load from elsewhere on the machine hits all alike
            rounds: dict[str, list[dict]] = {name: [] for name in runs}
            for _ in range(args.rounds):
                for name in runs:
                    rounds[name].append(drive(name, args.seconds))
            results = {name: _median(rs) for name, rs in rounds.items()}
            ratios = _ratios(rounds, "decisions", "echo")
            logged = _ratios(rounds, "logged", "decisions") if args.log else []
        finally:
            for proc, _ in {id(s): s for s in servers.values()}.values():
                proc.terminate()
                proc.wait(timeout=30)
    print(f"ticket-policy serve --workers {args.workers}, {args.connections} connections, "
          f"{args.rounds} alternating rounds of {args.seconds} s per endpoint (medians), "
          f"client {client}, {len(pairs)} tickets ({args.tickets} per bundled policy)")
    print(f"{'endpoint':<12} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'server CPU µs/req':>18}")
    for name, r in results.items():
        print(f"{name:<12} {r['rate']:>9,.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} "
              f"{r['errors']:>7} {r['cpu_us']:>18.0f}")
    cpu_ratio = results["echo"]["cpu_us"] / results["decisions"]["cpu_us"]
    print(f"echo / decisions server CPU per request: {cpu_ratio:.0%} (the throughput ratio a "
          "CPU-bound server would show, unskewed by other load)")
    ratio = ratios[len(ratios) // 2]
    p99 = results["decisions"]["p99"]
    print(f"decisions / echo: {ratio:.0%} (rounds: {', '.join(f'{r:.0%}' for r in ratios)}; "
          f"goal >= 70%: {'met' if ratio >= 0.7 else 'NOT met'}); decisions p99 {p99:.2f} ms "
          f"(goal < 10 ms: {'met' if p99 < 10 else 'NOT met'})")
    if logged:
        ratio = logged[len(logged) // 2]
        cpu = results["decisions"]["cpu_us"] / results["logged"]["cpu_us"]
        print(f"logged / decisions: {ratio:.0%} (rounds: "
              f"{', '.join(f'{r:.0%}' for r in logged)}); by server CPU per request {cpu:.0%}; "
              f"logged p99 {results['logged']['p99']:.2f} ms")


def _ratios(rounds: dict[str, list[dict]], a: str, b: str) -> list[float]:
    """The rate of `a` over that of `b`, round by round, sorted."""
    return sorted(x["rate"] / y["rate"] for x, y in zip(rounds[a], rounds[b], strict=True))


def _median(results: list[dict]) -> dict:
    return {key: sorted(r[key] for r in results)[len(results) // 2] for key in results[0]}


if __name__ == "__main__":
    main()
