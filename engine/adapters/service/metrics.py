"""Prometheus metrics (prometheus-client).

`ticket-policy serve` runs several worker processes, so it uses prometheus_client's
multiprocess mode: each worker writes its samples to files in `PROMETHEUS_MULTIPROC_DIR` (a
fresh directory per `serve` run) and `/metrics` on any worker returns the sum over all of them,
including workers that have since been replaced. An app built in-process without that directory
keeps its own registry.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)

from engine.run.evaluator import Evaluator

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


def multiprocess() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    """The service's metrics, in `registry` (a fresh one by default)."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.requests = Counter("ticket_policy_http_requests", "HTTP requests answered",
                                ["method", "route", "status"], registry=r)
        self.latency = Histogram("ticket_policy_http_request_duration_seconds",
                                 "Time to answer a request", ["route"], buckets=_BUCKETS,
                                 registry=r)
        self.decisions = Counter("ticket_policy_decisions", "Tickets decided",
                                 ["policy", "priority"], registry=r)
        self.engine_errors = Counter("ticket_policy_engine_errors",
                                     "Tickets a policy failed to decide", ["policy", "code"],
                                     registry=r)
        self.cache_hits = Counter("ticket_policy_decision_cache_hits",
                                  "Evaluations answered from the decision cache", registry=r)
        self.cache_misses = Counter("ticket_policy_decision_cache_misses",
                                    "Evaluations that ran the engine", registry=r)
        self.reloads = Counter("ticket_policy_reloads", "Policy set reloads",
                               ["result"], registry=r)
        self._children: dict[tuple, Any] = {}   # bounded: routes, methods, statuses, ids
        self._seen = (0, 0)
        self._lock = threading.Lock()

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # label lookups are cached: they cost more than the increment
            method = method if method in _METHODS else "other"
            children = self._children[key] = (self.requests.labels(method, route, str(status)),
                                               self.latency.labels(route))
        children[0].inc()
        children[1].observe(seconds)

    def decided(self, policy: str, priority: str | None) -> None:
        key = (policy, priority)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = self.decisions.labels(policy, priority or "none")
        child.inc()

    def failed(self, policy: str, code: str) -> None:
        self.engine_errors.labels(policy, code).inc()

    def sync_cache(self, evaluator: Evaluator) -> None:
        """Add the evaluator's cache hits and misses since the last call."""
        with self._lock:
            hits, misses = evaluator.hits, evaluator.misses
            old_hits, old_misses = self._seen
            self._seen = (hits, misses)
        if hits > old_hits:
            self.cache_hits.inc(hits - old_hits)
        if misses > old_misses:
            self.cache_misses.inc(misses - old_misses)

    def exposition(self) -> tuple[bytes, str]:
        """The text format: every worker's samples in multiprocess mode, else this registry's."""
        if multiprocess():
            from prometheus_client import multiprocess as mp

            registry = CollectorRegistry()
            mp.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
