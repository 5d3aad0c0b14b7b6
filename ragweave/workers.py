"""Several server processes on one port, each accepting on a listening socket of its own (SO_REUSEPORT).

uvicorn's `--workers` shares one listening socket between its workers, and an event loop accepts every connection
waiting when it wakes: a burst of new keep-alive connections (a proxy's pool, a load generator) can all land on one
worker while the other idles (perf (g): 99 of 100 connections on one of two workers, a third less throughput). With
a socket per worker the kernel spreads new connections over the workers by a hash of the address pair.
"""

from __future__ import annotations

import socket
import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess


def listening_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class ReusePortWorkers(Multiprocess):
    """uvicorn's supervisor (health checks, restarts, SIGHUP/SIGTTIN/SIGTTOU), but every worker it starts, first
    or replacement, gets a new socket bound to the same address: `Multiprocess` reads `self.sockets` once per
    worker it starts. The parent keeps no copy once the worker has it (multiprocessing drops a started
    process's arguments), so a dead worker's socket leaves the group and takes no more connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        return [listening_socket(self.config.host, self.config.port)]

    @sockets.setter
    def sockets(self, _: list[socket.socket]) -> None:
        """`Multiprocess.__init__` assigns the shared sockets; there are none."""


def run(config: uvicorn.Config) -> None:
    """`uvicorn.run` for a Config: one process, or `config.workers` with a listening socket each (the app must
    then be an import string, as for uvicorn's own workers)."""
    if config.workers <= 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    if not isinstance(config.app, str):
        raise ValueError("several workers need the app as an import string")
    ReusePortWorkers(config).run()
