"""The base of integration plugins whose service speaks gRPC (DCS, trigger, bookkeeping, ODC, DD scheduler).

What they share (integrations.md §1.0): one insecure aio channel to the endpoint of the plugin's setting,
opened in ``start`` on the core's event loop (so calls never block it) and reconnecting by itself with
upstream's backoff (at most 20 s between attempts) and keepalive (5 s, 1 s, also without calls, which the
mocks allow); ``connection_state()`` is the channel's, kept by a watcher so that ``GetIntegratedServices``
(asked from a thread) reads it without touching the channel. For calls: the budget from ``__call_timeout``
(``call_timeout``), one way to fail (``fail_call``), and integrated-service events shaped as upstream's
(``call_event``: name = the call role's path, operation = the call's ``func``; ``service_event`` for those
outside a call, such as DCS heartbeats). A subclass sets ``name``, ``endpoint_setting``,
``default_endpoint``, ``default_timeout`` and builds its stub on ``self.channel``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any

import grpc

from ecs_engine.durations import parse_duration
from ecs_engine.environment.integration_plugin import IntegrationPlugin
from ecs_engine.events import model

log = logging.getLogger(__name__)

#: upstream's dial options (keepalive 5 s / 1 s without streams, backoff up to 20 s), no proxy
CHANNEL_OPTIONS = (
    ("grpc.keepalive_time_ms", 5000),
    ("grpc.keepalive_timeout_ms", 1000),
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 1000),
    ("grpc.min_reconnect_backoff_ms", 1000),
    ("grpc.max_reconnect_backoff_ms", 20000),
    ("grpc.enable_http_proxy", 0),
)
#: what ``connection_state()`` says before ``start`` and after ``stop``
NOT_STARTED = "IDLE"


def grpc_target(endpoint: str) -> str:
    """The dial target of an upstream endpoint setting: ``//host:port`` and ``http://host:port`` are
    ``host:port`` (upstream passes them to grpc-go, which reads them so)."""
    text = endpoint.strip()
    for prefix in ("http://", "https://", "//"):
        if text.startswith(prefix):
            return text[len(prefix) :].rstrip("/")
    return text


def call_timeout(call: Any, default: float) -> float:
    """The call's budget in seconds: its ``__call_timeout`` (the role's ``timeout``), else ``default``
    (upstream's plugin constants apply only when the template's value does not parse)."""
    try:
        seconds = parse_duration(call.var_stack.get("__call_timeout", ""))
    except ValueError:
        return default
    return seconds if seconds > 0 else default


def fail_call(call: Any, error: str, reason: str = "") -> str:
    """Make ``call`` fail with ``error`` (and ``reason``), as upstream's ``__call_error``; returns ""."""
    call.var_stack["__call_error"] = error
    if reason:
        call.var_stack["__call_error_reason"] = reason
    return ""


def rpc_error_text(exc: grpc.aio.AioRpcError) -> str:
    """One line for a failed RPC: its status code and details."""
    details = exc.details()
    return f"{exc.code().name}: {details}" if details else exc.code().name


def call_event(
    call: Any,
    status: model.OpStatus,
    *,
    step: str = "",
    step_status: model.OpStatus = model.NULL,
    error: str = "",
    payload: Mapping[str, Any] | None = None,
) -> None:
    """Publish an integrated-service event of ``call`` (name: the role path; operation: ``call.func``,
    e.g. ``dcs.StartOfRun()``, which the GUI and Bookkeeping filter on); ``payload`` as JSON."""
    call.publish(
        call.func,
        status,
        step=step,
        step_status=step_status,
        error=error,
        payload=json.dumps(payload) if payload is not None else "",
    )


class GrpcServicePlugin(IntegrationPlugin):
    """A plugin with one gRPC channel to its service (see the module docstring)."""

    enabled_by_default = False
    #: upstream's default endpoint (core/config.go), used when the setting is empty
    default_endpoint: str = ""
    #: seconds a call may take when its ``__call_timeout`` does not parse (upstream's plugin constant)
    default_timeout: float = 30.0

    def __init__(self, endpoint: str = ""):
        super().__init__(endpoint or self.default_endpoint)
        self._channel: grpc.aio.Channel | None = None
        self._state = NOT_STARTED
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def target(self) -> str:
        return grpc_target(self.endpoint)

    @property
    def channel(self) -> grpc.aio.Channel:
        """The channel (after ``start``); calls made before it exists fail with one clear error."""
        if self._channel is None:
            raise RuntimeError(f"{self.name}: not connected (the plugin was not started)")
        return self._channel

    async def start(self) -> None:
        self._channel = grpc.aio.insecure_channel(self.target, options=CHANNEL_OPTIONS)
        self.background(self._watch_state(self._channel), "connection state")
        await self.started()

    async def started(self) -> None:
        """After the channel exists, on the loop: subclasses start their background work here."""

    def background(self, coroutine: Any, what: str) -> asyncio.Task[Any]:
        """Run ``coroutine`` until ``stop``; an unexpected end is logged naming the plugin and ``what``."""
        task = asyncio.get_running_loop().create_task(coroutine, name=f"{self.name}: {what}")
        self._tasks.add(task)
        task.add_done_callback(lambda done: self._ended(done, what))
        return task

    def _ended(self, task: asyncio.Task[Any], what: str) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("integration plugin %s: %s ended: %s", self.name, what, task.exception())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._channel is not None:
            with contextlib.suppress(Exception):
                await self._channel.close()
        self._channel = None
        self._state = NOT_STARTED

    async def _watch_state(self, channel: grpc.aio.Channel) -> None:
        """Keep ``_state`` equal to the channel's connectivity, and ask it to connect (as upstream's dial)."""
        while True:
            state = channel.get_state(try_to_connect=True)
            self._state = state.name
            await channel.wait_for_state_change(state)

    def connection_state(self) -> str:
        return self._state

    async def wait_until_ready(self) -> None:
        """Until the channel is READY (asking it to connect), for work that must wait for the service."""
        channel = self.channel
        state = channel.get_state(try_to_connect=True)
        while state != grpc.ChannelConnectivity.READY:
            await channel.wait_for_state_change(state)
            state = channel.get_state(try_to_connect=True)

    def service_event(
        self,
        operation: str,
        status: model.OpStatus,
        *,
        environment_id: str = "",
        error: str = "",
        payload: Mapping[str, Any] | None = None,
    ) -> None:
        """Publish an integrated-service event that no call carries (``operation`` is also its name)."""
        self.publish(
            model.integrated_service_event(
                environment_id,
                service=operation,
                operation=operation,
                status=status,
                error=error,
                payload=json.dumps(payload) if payload is not None else "",
            )
        )
