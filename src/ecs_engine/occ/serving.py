"""Serving a control port until the process ends: shared by OCC processes and FairMQ-like devices."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import shlex
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import grpc.aio

from ecs_engine.errors import HandledError

from .options import control_parser, parse_control_options

log = logging.getLogger(__name__)

SHUTDOWN_GRACE = 2.0  # seconds for in-flight replies (the EXIT reply) once the process is DONE
T = TypeVar("T")
_abandoned: set[asyncio.Task] = set()  # transitions going on after their controller stopped waiting


async def unabandoned(work: Awaitable[T], what: str) -> T:
    """``work`` run to its end even if the call that asked for it is cancelled (the controller's time limit
    passed, it hung up): a hook cut off half-way would leave the process half set up while it reports its old
    state, and OCClib ends every transition it started whatever its controller does."""
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            log.warning("the controller stopped waiting for %s; it goes on", what)
            _abandoned.add(task)
            task.add_done_callback(lambda done: _forget(done, what))
        raise


def _forget(task: asyncio.Task, what: str) -> None:
    """The end of an abandoned transition; a refusal (it waited for another one) is logged, as it has no caller."""
    _abandoned.discard(task)
    if not task.cancelled() and task.exception() is not None:
        log.info("%s, its controller gone: %s", what, task.exception())


async def serve_control(owner: Any, register: Callable[[grpc.aio.Server], None], what: str) -> int:
    """Listen on ``owner.options`` host/port until ``owner._finish(code)`` is called or SIGTERM/SIGINT
    arrives (128 + signal); return the exit code. ``register`` adds the service to the server."""
    owner._finished = asyncio.Event()
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
    register(server)
    address = f"{owner.options.host}:{owner.options.port}"
    check_can_listen(owner.options.host, owner.options.port)
    try:
        owner.port = server.add_insecure_port(address)
    except RuntimeError:
        owner.port = 0
    if not owner.port:
        raise HandledError(f"cannot listen on {address}: the port is in use or the address is not local")
    await server.start()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, _stop_on, owner, signum)
    log.info("%s listening on %s:%d (pid %d)", what, owner.options.host, owner.port, os.getpid())
    try:
        await owner._finished.wait()
    finally:
        await server.stop(SHUTDOWN_GRACE)
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    return owner._exit_code


def _stop_on(owner: Any, signum: int) -> None:
    """A signal ends the process: its log says which, and in which state (else it just ends, unexplained)."""
    log.info("%s in state %s: stopping", signal.Signals(signum).name, owner.state)
    owner._finish(128 + signum)


def check_can_listen(host: str, port: int) -> None:
    """Say why the control port cannot be had, before gRPC tries: gRPC only fails, after a log line of its own
    on stderr that names the cause in its terms."""
    if port == 0:
        return
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise HandledError(
            f"cannot listen on {host}:{port}: the host {host!r} does not resolve ({exc.strerror})"
        ) from None
    failures = _bind_failures(addresses)
    if any(exc.errno == errno.EADDRINUSE for exc in failures):
        raise HandledError(
            f"cannot listen on {host}:{port}: the port is in use by another process",
            hint="give another port (--control-port, or 0 for a free one), or stop the process that has it",
        )
    if failures and len(failures) == len(addresses):
        why = "not an address of this host" if failures[0].errno == errno.EADDRNOTAVAIL else failures[0].strerror
        raise HandledError(f"cannot listen on {host}:{port}: {why}", hint="check --control-host")


def _bind_failures(addresses: list) -> list[OSError]:
    """Why each of ``addresses`` (getaddrinfo's) cannot be bound now, as gRPC binds (SO_REUSEADDR: a closing
    port is free)."""
    failures = []
    for family, kind, proto, _, sockaddr in addresses:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(sockaddr)
            except OSError as exc:
                failures.append(exc)
    return failures


def port_in_use(host: str, port: int) -> bool:
    """Whether another process holds ``host:port``: a launcher that chose the port says so in its own terms."""
    addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return any(exc.errno == errno.EADDRINUSE for exc in _bind_failures(addresses))


def run_control_main(
    cls: Any,
    argv: Sequence[str] | None,
    environ: Mapping[str, str] | None,
    *,
    extra_arguments: Callable[[Any], None] | None = None,
    environment_first: bool = False,
) -> int:
    """Parse the control flags (and the class's own), serve until the end, return the exit code.

    Errors are one line on stderr.
    """
    prog = os.path.basename(sys.argv[0]) if argv is None else cls.__name__
    doc = (cls.__doc__ or "").strip()
    parser = control_parser(prog, cls.description or (doc.splitlines()[0] if doc else None))
    if extra_arguments is not None:
        extra_arguments(parser)
    cls.add_arguments(parser)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        options = parse_control_options(
            parser, sys.argv[1:] if argv is None else argv, environ, environment_first=environment_first
        )
        if options.rest:  # kept for whatever else reads them, but a misspelt flag of its own must not pass unseen
            log.warning("ignored %s: %s declares no such flags (add_arguments)", shlex.join(options.rest), prog)
        return asyncio.run(cls(options).serve())
    except HandledError as exc:
        sys.stderr.write(f"{prog}: error: {exc.render()}\n")
        return int(exc.exit_status)
