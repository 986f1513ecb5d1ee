"""`ticket-policy serve`: uvicorn worker processes under a supervisor that replaces a worker
that dies, forwards SIGHUP to every worker (each reloads its policies; uvicorn's own supervisor
would restart them instead) and stops them gracefully on SIGTERM / SIGINT."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import tempfile

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess

from engine.adapters.service.config import ENV, ServiceConfig
from engine.adapters.service.logs import EVENTS, LOG_CONFIG, log
from engine.adapters.service.metrics import MULTIPROC_ENV
from engine.core.diagnostics import Diagnostic, Location


class Supervisor(Multiprocess):
    """uvicorn's process supervisor, with SIGHUP meaning "reload the policies"."""

    def handle_hup(self) -> None:
        pids = [p.pid for p in self.processes if p.pid is not None]
        log(EVENTS, "SIGHUP: reloading the policies in every worker", workers=pids)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                pass

    def keep_subprocess_alive(self) -> None:
        before = {p.pid for p in self.processes}
        super().keep_subprocess_alive()
        gone = before - {p.pid for p in self.processes}
        for pid in gone:
            log(EVENTS, "worker replaced", dead=pid,
                workers=[p.pid for p in self.processes])
            if os.environ.get(MULTIPROC_ENV) and pid is not None:
                from prometheus_client import multiprocess

                multiprocess.mark_process_dead(pid)


def run(config: ServiceConfig) -> list[Diagnostic]:
    """Serve until SIGTERM / SIGINT. The socket is bound here and shared by the workers; the
    address actually bound (e.g. for `--port 0`) is logged as `listening`. Returns the problem
    when the address cannot be bound (nothing is served then)."""
    try:
        sock = _bind(config.host, config.port)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        return [Diagnostic("bind_failed", f"cannot listen on `{config.host}:{config.port}`: "
                           f"{reason}", location=Location(file="--port"),
                           hint="choose another --port, or stop what listens there")]
    own_dir = None
    if not os.environ.get(MULTIPROC_ENV):
        own_dir = tempfile.mkdtemp(prefix="ticket-policy-metrics-")
        os.environ[MULTIPROC_ENV] = own_dir
    config = _replace(config, supervisor_pid=os.getpid(), handle_signals=True)
    os.environ[ENV] = config.to_env()
    uv = uvicorn.Config(
        "engine.adapters.service.app:create_app_from_env", factory=True, host=config.host,
        port=config.port, workers=config.workers, log_config=LOG_CONFIG, access_log=False,
        timeout_graceful_shutdown=int(config.graceful_timeout), server_header=False,
        proxy_headers=False, lifespan="on")
    host, port = sock.getsockname()[:2]
    log(EVENTS, "listening", host=host, port=port, workers=config.workers,
        url=f"http://{host if ':' not in host else f'[{host}]'}:{port}")
    try:
        Supervisor(uv, sockets=[sock]).run()
    finally:
        sock.close()
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)
    return []


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket the workers share, declared as TCP: asyncio sets `TCP_NODELAY` only
    on connections of sockets whose protocol says TCP (uvicorn's own `bind_socket` uses 0), and
    without it every keep-alive response waits ~40 ms for a delayed ACK."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)   # connections queue from now on, until a worker has started
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _replace(config: ServiceConfig, **changes) -> ServiceConfig:
    import dataclasses

    return dataclasses.replace(config, **changes)
