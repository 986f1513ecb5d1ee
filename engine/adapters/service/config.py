"""The service's configuration: what `ticket-policy serve` parses and checks, and every worker
process receives (as JSON in the environment, since uvicorn spawns its workers)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from engine import app
from engine.core.diagnostics import Diagnostic, Location, did_you_mean
from engine.load.mappings import bundled_mappings
from engine.ops.log import DecisionLog, LogError

ENV = "TICKET_POLICY_SERVICE"
MiB = 1024 * 1024

#: whether this build's `engine.app.decide` / `why_not` take a helpdesk payload `mapping`
MAPPINGS = "mapping" in inspect.signature(app.decide).parameters
WHY_NOT_MAPPINGS = "mapping" in inspect.signature(app.why_not).parameters


@dataclass(frozen=True)
class ServiceConfig:
    """Options of the service; limits are documented in docs/service.md."""

    policies: tuple[str, ...] = ()          # folders, files or bundled ids; () = every bundled
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    admin_token_file: str | None = None     # admin endpoints are disabled without one
    mapping: str | None = None              # the default helpdesk mapping of every request
    echo: bool = False                      # add POST /v1/echo (the benchmark's HTTP floor)
    log: str | None = None                  # the decision log every answered decision goes to
    ui_log_tries: bool = False              # /ui "try a ticket" writes to the decision log
    max_body: int = 1 * MiB                 # one ticket
    max_batch_body: int = 8 * MiB           # a batch
    max_batch_items: int = 1000
    request_timeout: float = 10.0           # seconds, reading the body included
    graceful_timeout: float = 15.0          # seconds in-flight requests get at shutdown
    supervisor_pid: int | None = None       # set by `serve`: admin reloads signal it
    handle_signals: bool = False            # a worker reloads on SIGHUP

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls, environ: dict | None = None) -> ServiceConfig:
        data = json.loads((environ or os.environ).get(ENV) or "{}")
        data["policies"] = tuple(data.get("policies") or ())
        return cls(**data)


def read_token(path: str) -> tuple[bytes | None, list[Diagnostic]]:
    """The admin bearer token in `path` (surrounding whitespace stripped), or the problem."""
    where = Location(file="--admin-token-file")
    try:
        token = Path(path).read_bytes().strip()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        return None, [Diagnostic("admin_token_unreadable", f"cannot read `{path}`: {reason}",
                                 location=where)]
    if not token:
        return None, [Diagnostic("admin_token_unreadable", f"`{path}` holds no token",
                                 location=where, hint="write a long random token into the file, "
                                 "e.g. `openssl rand -hex 32 > admin.token`")]
    return token, []


def check_options(config: ServiceConfig) -> list[Diagnostic]:
    """Problems of the options themselves (the policies are checked when loaded)."""
    problems: list[Diagnostic] = []
    if config.workers < 1:
        problems.append(Diagnostic("bad_option", f"`{config.workers}` workers: at least 1",
                                   location=Location(file="--workers")))
    if not 0 <= config.port <= 65535:
        problems.append(Diagnostic("bad_option", f"port `{config.port}` is not 0-65535",
                                   location=Location(file="--port")))
    if config.admin_token_file is not None:
        problems += read_token(config.admin_token_file)[1]
    if config.mapping is not None and not MAPPINGS:
        problems.append(mapping_unavailable("--mapping"))
    if config.log is not None:
        problems += check_log(config.log)
    elif config.ui_log_tries:
        problems.append(Diagnostic("bad_option", "`--ui-log-tries` needs a decision log",
                                   location=Location(file="--ui-log-tries"),
                                   hint="add `--log PATH`, or drop `--ui-log-tries`"))
    return problems


def check_log(path: str) -> list[Diagnostic]:
    """Whether the decision log at `path` can be opened for writing (it is created if new)."""
    try:
        DecisionLog.open(path).close()
    except LogError as exc:
        return [exc.diagnostic]
    return []


def mapping_unavailable(where: str = "mapping") -> Diagnostic:
    return Diagnostic("mapping_unavailable", "mappings are not available in this build",
                      location=Location(file=where),
                      hint="send tickets in the ticket-policy format (schemas/ticket.schema.json)")


@cache
def request_mappings(configured: str | None) -> dict[str, str]:
    """What `?mapping=` may name -> what the use case is given: the bundled ids, and the
    `--mapping` of the service by its name (a file by its stem; over a bundled id of that
    name). A request never names a path."""
    allowed = {name: name for name in bundled_mappings()}
    if configured is not None:
        allowed[configured if configured in allowed else Path(configured).stem] = configured
    return allowed


def unknown_mapping(given: str, allowed: dict[str, str]) -> Diagnostic:
    names = ", ".join(sorted(allowed)) or "none"
    return Diagnostic("unknown_mapping", f"no mapping `{given}` is served here (mappings: "
                      f"{names})", location=Location(file="?mapping"),
                      hint=did_you_mean(given, sorted(allowed)) or "name a bundled mapping "
                      "id, or the one the service was started with (`serve --mapping`)")
