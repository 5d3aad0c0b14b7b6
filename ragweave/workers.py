"""Several server processes on one port, new connections dealt to them in turn by the supervisor.

uvicorn's `--workers` shares one listening socket between its workers, and an event loop accepts every connection
waiting when it wakes: a burst of new keep-alive connections (a proxy's pool, a load generator) can all land on one
worker while the other idles (perf (g): 99 of 100 connections on one of two workers, a third less throughput).
A listening socket per worker (SO_REUSEPORT) spreads them only as evenly as a hash does: 64 connections split
anywhere from 32/32 to 23/41 in perf runs, and the busier worker sets the tail latency (perf (c)).

Here the supervisor accepts, and hands each connection to the next live worker in turn over a Unix socket
(SCM_RIGHTS), as Node's cluster module does; the worker serves it as if it had accepted it itself. A worker that
died is skipped (its end of the channel is closed), and its replacement joins the turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import threading

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import multiprocess


def listening_socket(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


class Dealer:
    """The supervisor's side: accepts on the listening socket (a thread of its own) and sends each connection
    to the next worker's channel. A channel whose worker is gone fails the send and leaves the turn; a full
    one (a stopped worker) is passed over for this connection."""

    def __init__(self, listener: socket.socket) -> None:
        self.listener = listener
        self.channels: list[socket.socket] = []
        self.turn = 0
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept_forever, name="ragweave-dealer", daemon=True)

    def new_channel(self) -> socket.socket:
        """A channel for a worker about to start: the dealer keeps one end, the worker gets the other."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours.setblocking(False)
        with self.lock:
            self.channels.append(ours)
        return theirs

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        self.listener.close()
        if self.thread.ident is not None:
            self.thread.join(5)
        with self.lock:
            for channel in self.channels:
                channel.close()
            self.channels.clear()

    def _accept_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:  # shut down by stop(), or a transient failure such as EMFILE
                self.stopping.wait(0.05)
                continue
            with connection:
                connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.deal(connection)

    def deal(self, connection: socket.socket) -> bool:
        """Send `connection` to the next worker that takes it; False (and the caller closes it) if none does."""
        with self.lock:
            tried = 0
            while self.channels and tried < len(self.channels):
                index = self.turn % len(self.channels)
                channel = self.channels[index]
                try:
                    socket.send_fds(channel, [b"c"], [connection.fileno()])
                except BlockingIOError:  # this worker is not reading (stopped, or far behind): the next one
                    self.turn, tried = index + 1, tried + 1
                    continue
                except OSError:  # its worker is gone
                    channel.close()
                    del self.channels[index]
                    continue
                self.turn = index + 1
                return True
            return False


class DealtServer(uvicorn.Server):
    """A worker: uvicorn's server, taking its connections from the dealer's channel instead of a listening
    socket. The channel arrives as the one socket uvicorn's supervisor passes to each worker it starts."""

    _channel: socket.socket | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        (channel,) = sockets or ()
        await super().startup(sockets=[])  # the lifespan, and no listener of its own
        config, loop = self.config, asyncio.get_running_loop()

        def create_protocol(_loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Protocol:
            return config.http_protocol_class(config=config, server_state=self.server_state,  # as uvicorn does
                                              app_state=self.lifespan.state, _loop=_loop)

        async def serve(connection: socket.socket) -> None:
            try:
                await loop.connect_accepted_socket(create_protocol, connection, ssl=config.ssl)
            except OSError:  # the client has gone already
                connection.close()

        def receive() -> None:
            while True:
                try:
                    data, fds, _, _ = socket.recv_fds(channel, 1, 1)
                except BlockingIOError:
                    return
                except OSError:
                    data, fds = b"", []
                if not data:  # the supervisor is gone
                    self._close_channel()
                    return
                for fd in fds:  # none if this process is out of descriptors: the kernel closed it
                    loop.create_task(serve(socket.socket(fileno=fd)))

        channel.setblocking(False)
        self._channel = channel
        loop.add_reader(channel.fileno(), receive)

    def _close_channel(self) -> None:
        channel = self._channel
        if channel is not None and channel.fileno() != -1:
            asyncio.get_running_loop().remove_reader(channel.fileno())
            channel.close()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self._close_channel()  # the dealer skips this worker from now on
        await super().shutdown(sockets=sockets)


class DealtProcess(multiprocess.Process):
    """uvicorn's worker process, running a DealtServer."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = DealtServer(config=self.config)
        return self._server


class DealingWorkers(multiprocess.Multiprocess):
    """uvicorn's supervisor (health checks, restarts, SIGHUP/SIGTTIN/SIGTTOU) with a dealer in front: every
    worker it starts, first or replacement, gets a new channel, since `Multiprocess` reads `self.sockets` once
    per worker it starts. The supervisor keeps no copy of the worker's end once the worker has it
    (multiprocessing drops a started process's arguments), so a dead worker's channel is closed."""

    def __init__(self, config: uvicorn.Config) -> None:
        self.dealer = Dealer(listening_socket(config.host, config.port, config.backlog))
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        return [self.dealer.new_channel()]

    @sockets.setter
    def sockets(self, _: list[socket.socket]) -> None:
        """`Multiprocess.__init__` assigns the shared sockets; there are none."""

    def run(self) -> None:
        self.dealer.start()
        # Multiprocess builds every worker with its module's `Process`; this process is the supervisor only
        original = multiprocess.Process
        multiprocess.Process = DealtProcess
        try:
            super().run()
        finally:
            multiprocess.Process = original
            self.dealer.stop()

    def terminate_all(self) -> None:
        self.dealer.stop()  # no new connections for workers on their way out
        super().terminate_all()


def run(config: uvicorn.Config) -> None:
    """`uvicorn.run` for a Config: one process, or `config.workers` with connections dealt to them in turn (the
    app must then be an import string, as for uvicorn's own workers)."""
    if config.workers <= 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        return
    if not isinstance(config.app, str):
        raise ValueError("several workers need the app as an import string")
    DealingWorkers(config).run()
