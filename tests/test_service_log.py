"""`serve --log`: every decision answered 200 (one at a time or in a batch) is durable in the
decision log first, with its request id; a log that cannot be written (full, locked, read-only)
is a 503 problem and no record; two real worker processes write one chain; and the crash test:
SIGKILL of the whole server at a random moment, ten times, loses nothing that was answered."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest
from conftest import ROOT
from service_support import EXAMPLE, AsgiClient, ServerProcess

from engine.adapters.service import ServiceConfig, create_app
from engine.ops.log import DecisionLog
from engine.ops.log.chain import verify
from engine.ops.log.query import LogReader

DECIDE = "/v1/policies/cloudtalk/decisions"
BATCH = "/v1/policies/cloudtalk/decisions:batch"
BASE_TICKET = json.loads(EXAMPLE.read_text("utf-8"))


def ticket(tid: str) -> dict:
    return {**BASE_TICKET, "id": tid}


def _records(path) -> list:
    with LogReader(path) as reader:
        return list(reader._rows())


def _client(path, **config) -> AsgiClient:
    app = create_app(ServiceConfig(policies=("cloudtalk",), log=str(path), **config))
    assert app.service.load().accepted
    return AsgiClient(app)


def test_a_decision_is_logged_with_its_request_id_before_it_is_answered(tmp_path):
    path = tmp_path / "log.db"
    c = _client(path)
    try:
        r = c.post(DECIDE, json=ticket("CT-1"), headers={"X-Request-Id": "req-1"})
        assert r.status_code == 200 and r.json()["request_id"] == "req-1"
        [rec] = _records(path)
        assert rec.record["request_id"] == "req-1" and rec.record["ticket_id"] == "CT-1"
        assert rec.decision_json == r.json()   # the log holds exactly what was answered
        generated = c.post(DECIDE, json=ticket("CT-2"))
        assert _records(path)[1].record["request_id"] == generated.headers["x-request-id"]
    finally:
        c.app.service.close()
        c.close()
    assert verify(path).ok


def test_a_batch_logs_every_decided_ticket_and_no_rejected_one(tmp_path):
    path = tmp_path / "log.db"
    c = _client(path)
    try:
        body = [ticket("B-1"), {"id": "B-bad"}, ticket("B-2")]
        r = c.post(BATCH, json=body, headers={"X-Request-Id": "batch-1"})
        assert r.status_code == 200 and (r.json()["decided"], r.json()["rejected"]) == (2, 1)
        records = _records(path)
        assert [x.record["ticket_id"] for x in records] == ["B-1", "B-2"]
        assert {x.record["request_id"] for x in records} == {"batch-1"}
        answered = [x for x in r.json()["results"] if "diagnostics" not in x]
        assert [x.decision_json for x in records] == answered
    finally:
        c.app.service.close()
        c.close()


def test_the_app_factory_takes_a_log_and_keeps_it_on_app_state(tmp_path):
    with DecisionLog.open(tmp_path / "log.db") as log:
        app = create_app(ServiceConfig(policies=("cloudtalk",)), log=log)
        assert app.service.log is log and app.app.state.log is log
        assert app.service.load().accepted
        c = AsgiClient(app)
        try:
            assert c.post(DECIDE, json=ticket("S-1")).status_code == 200
        finally:
            c.close()
        app.service.close()   # not its own: left open
        assert log._conn.execute("SELECT count(*) FROM records").fetchone() == (1,)
    assert create_app(ServiceConfig(policies=("cloudtalk",))).app.state.log is None


def _unlogged(r: httpx.Response, code: str) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert problem["diagnostics"][0]["code"] == code
    assert "decision log" in problem["title"] and "priority" not in problem
    assert "results" not in problem and r.headers["retry-after"] == "1"


def test_a_full_log_is_a_503_problem_and_no_record(tmp_path):
    path = tmp_path / "log.db"
    with DecisionLog.open(path) as log:
        app = create_app(ServiceConfig(policies=("cloudtalk",)), log=log)
        assert app.service.load().accepted
        c = AsgiClient(app)
        answered = []
        try:
            assert c.post(DECIDE, json=ticket("F-0")).status_code == 200
            pages = log._conn.execute("PRAGMA page_count").fetchone()[0]
            log._conn.execute(f"PRAGMA max_page_count = {pages}")   # the disk is full
            for i in range(1, 200):   # until the last page has no room left
                r = c.post(DECIDE, json=ticket(f"F-{i}"))
                if r.status_code != 200:
                    break
                answered.append(f"F-{i}")
            _unlogged(r, "log_unwritable")
            assert "full" in r.json()["detail"]
            _unlogged(c.post(BATCH, json=[ticket(f"G-{i}") for i in range(40)]),
                      "log_unwritable")
            log._conn.execute("PRAGMA max_page_count = 1073741823")
            assert c.post(DECIDE, json=ticket("F-last")).status_code == 200
        finally:
            c.close()
    assert [x.record["ticket_id"] for x in _records(path)] == ["F-0", *answered, "F-last"]
    assert verify(path).ok


def test_a_log_locked_too_long_is_a_503_problem(tmp_path):
    path = tmp_path / "log.db"
    c = _client(path, request_timeout=1.0)   # a commit waits for the lock at most 0.5 s
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")
        _unlogged(c.post(DECIDE, json=ticket("L-1")), "log_busy")
        holder.execute("ROLLBACK")
        assert c.post(DECIDE, json=ticket("L-2")).status_code == 200
    finally:
        holder.close()
        c.app.service.close()
        c.close()
    assert [x.record["ticket_id"] for x in _records(path)] == ["L-2"]


def test_a_log_that_cannot_be_opened_makes_decisions_and_readyz_503(tmp_path):
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    c = _client(folder)
    try:
        _unlogged(c.post(DECIDE, json=ticket("X-1")), "log_unwritable")
        assert c.get("/readyz").status_code == 503
        assert c.get("/healthz").status_code == 200
    finally:
        c.close()


def test_serve_check_reports_a_log_it_cannot_write(tmp_path):
    folder = tmp_path / "a-folder.db"
    folder.mkdir()
    out = subprocess.run([sys.executable, str(ROOT / "cli.py"), "serve", "--check", "--log",
                          str(folder), "--policies", "cloudtalk"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 2 and "error[log_unwritable]" in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


class Load:
    """Client threads sending decisions and batches with unique request ids; `acknowledged`
    holds the request id and ticket ids of every request answered 200, read in full."""

    def __init__(self, url: str, name: str, threads: int = 4):
        self.url, self.name = url, name
        self.acknowledged: dict[str, list[str]] = {}
        self.stop = threading.Event()
        self.errors = 0
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True)
                        for k in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self, k: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            i = 0
            while not self.stop.is_set():
                rid = f"{self.name}-{k}-{i}"
                tids = [f"{rid}-t{j}" for j in range(3 if i % 5 == 4 else 1)]
                url, body = ((BATCH, [ticket(t) for t in tids]) if len(tids) > 1
                             else (DECIDE, ticket(tids[0])))
                try:
                    r = client.post(url, json=body, headers={"X-Request-Id": rid})
                    if r.status_code == 200:
                        r.json()
                        self.acknowledged[rid] = tids
                    elif r.status_code != 503:
                        raise AssertionError(f"{r.status_code}: {r.text}")
                except httpx.TransportError:
                    self.errors += 1
                    if self.errors > 10_000:
                        return
                    time.sleep(0.01)
                i += 1

    def join(self) -> dict[str, list[str]]:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)
        return self.acknowledged


def _logged(path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for rec in _records(path):
        out.setdefault(rec.record["request_id"], set()).add(rec.record["ticket_id"])
    return out


@pytest.mark.slow
def test_two_worker_processes_write_one_chain_without_loss(tmp_path):
    path = tmp_path / "log.db"
    server = ServerProcess("--policies", "cloudtalk", "--log", str(path))
    try:
        load = Load(server.url, "p")
        time.sleep(2.0)
        acknowledged = load.join()
        pids = {e["pid"] for e in server.lines if e.get("message") == "request"}
    finally:
        assert server.close() == 0
    assert len(acknowledged) > 20 and len(pids) == 2   # both workers answered and logged
    report = verify(path)
    assert report.ok, report.problems
    logged = _logged(path)
    assert all(set(tids) == logged.get(rid) for rid, tids in acknowledged.items())


@pytest.mark.slow
def test_sigkill_of_the_whole_server_loses_no_answered_decision(tmp_path):
    """Ten rounds on one log: serve with 2 workers, load, SIGKILL the process group at a random
    moment; every request answered 200 has its records, the chain verifies, and the next
    round's service starts on the same log."""
    path = tmp_path / "log.db"
    rnd = random.Random(13)
    acknowledged: dict[str, list[str]] = {}
    for round_ in range(10):
        server = ServerProcess("--policies", "cloudtalk", "--log", str(path), session=True)
        load = Load(server.url, f"r{round_}")
        time.sleep(rnd.uniform(0.2, 2.0))
        os.killpg(server.proc.pid, signal.SIGKILL)
        assert server.proc.wait(timeout=30) == -signal.SIGKILL
        answered = load.join()
        server.client.close()
        assert answered, f"round {round_}: no request was answered before the kill"
        acknowledged.update(answered)
        report = verify(path)
        assert report.ok, (round_, report.problems)
        logged = _logged(path)
        lost = [rid for rid, tids in acknowledged.items() if not set(tids) <= logged.get(rid,
                                                                                      set())]
        assert not lost, f"round {round_}: {len(lost)} answered requests have no record"
    assert len(acknowledged) > 100


def test_concurrent_requests_are_group_committed(tmp_path, monkeypatch):
    """Requests arriving while a commit waits for the writers' lock (held here, as another
    worker would) share the next transaction: 64 requests, at most 3 commits (the first, the
    one that waited, and a last request that may have missed it)."""
    path = tmp_path / "log.db"
    app = create_app(ServiceConfig(policies=("cloudtalk",), log=str(path)))
    assert app.service.load().accepted
    c = AsgiClient(app)
    other_writer = os.open(path, os.O_RDONLY)
    fcntl.flock(other_writer, fcntl.LOCK_EX)
    prepared = []   # a request's record is prepared just before it joins the waiting group
    real_prepare = DecisionLog.prepare
    monkeypatch.setattr(DecisionLog, "prepare",
                        lambda self, *a, **k: prepared.append(1) or real_prepare(self, *a, **k))

    def release() -> None:   # once every request has come (not after a fixed delay: a busy
        deadline = time.monotonic() + 60   # machine may take longer than any delay to send them)
        while len(prepared) < 64 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)
        fcntl.flock(other_writer, fcntl.LOCK_UN)

    threading.Thread(target=release, daemon=True).start()

    async def burst():
        return await asyncio.gather(*(c.client.post(DECIDE, json=ticket(f"G-{i}"))
                                      for i in range(64)))

    try:
        answers = c.loop.run_until_complete(burst())
        assert [r.status_code for r in answers] == [200] * 64
        groups = app.service.recorder.groups
    finally:
        app.service.close()
        c.close()
        os.close(other_writer)
    assert len(_records(path)) == 64 and groups <= 3, groups
    assert verify(path).ok
