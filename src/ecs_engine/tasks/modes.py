"""The mode drivers: how one task of each control mode is driven (OCC, FairMQ, basic, hook).

The executor gives each task the ``ModeDriver`` of its mode. An OCC driver keeps one gRPC channel per process, opens its StateStream and EventStream once after the
process reached STANDBY and keeps them until the process ends (OCClib breaks on re-subscription,
occ-peer-behaviour.md §6.5). A transition counts only if the reply is ok, triggered by us and in the
expected state (§8). Basic tasks are processes started at START and killed at STOP; hook tasks run once per
trigger. Transitions of basic and hook tasks only move their bookkeeping state.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from ecs_engine.errors import DeadlineError, HandledError, RefusedError
from ecs_engine.occ import fairmq, shutdown, states
from ecs_engine.occ.client import OccClient, StateUpdate, TransitionResult
from ecs_engine.occ.errors import DIRECT

from .model import TaskProcess
from .reports import HookResult
from .resources import ProcessHandle

#: looks at the control ports of all starting processes together per second, so each is looked at every
#: POLL_INTERVAL s while few start (the last ones of a deploy are seen at once) and less often while many do:
#: a thousand starting tasks polling every 20 ms cost the core much CPU; never less often than POLL_INTERVAL_MAX
POLLS_PER_SECOND = 500
POLL_INTERVAL = 0.02
POLL_INTERVAL_MAX = 0.16
STATE_POLL = 0.5  # seconds between GetState calls until STANDBY (as the AliECS executor)
REFRESH_TIMEOUT = 5.0  # GetState after a device error (a RUNNING OCClib process may take 1 s to answer)
OUTPUT_LIMIT = 64 * 1024  # bytes of a hook's stdout/stderr kept in taskResult.*
LAST_OUTPUT = "; its last output:\n"  # what follows a startup error's words: the output of a process that ended

log = logging.getLogger(__name__)

Arguments = Sequence[tuple[str, str]]
#: (kind, task, detail): "state" (the new state) or "event" (a device event's name)
Notify = Callable[[str, TaskProcess, object], None]
#: starts the task's process (and the executor's watch of its exit)
Launch = Callable[[TaskProcess], Awaitable[ProcessHandle]]


class TransitionFailed(HandledError):
    """One task did not complete a transition; the message names the task, its host and what happened."""


class PortTaken(TransitionFailed):
    """Another process took the task's control port between its allocation and the task's bind."""


def describe(task: TaskProcess) -> str:
    return f"task {task.request.role_path} ({task.id}) on {task.node.name}"


def _tail(path: str) -> str:
    if not path:
        return ""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - OUTPUT_LIMIT))
            return handle.read().decode(errors="replace")
    except OSError:
        return ""


def _no_output(task: TaskProcess) -> str:
    """What a task that ended at startup without a line of output left to see: nothing, or nothing kept (a
    stream its task template sends to 'none' may hold the error)."""
    missing = [name for name, path in (("stdout", task.stdout_path), ("stderr", task.stderr_path)) if not path]
    if not missing:
        return "; it wrote nothing"
    if len(missing) == 2:
        return "; its output is not kept (its task template's command.stdout and command.stderr: 'none')"
    (lost,) = missing
    other = "stderr" if lost == "stdout" else "stdout"
    return f"; it wrote nothing to {other}, and its {lost} is not kept (its task template's command.{lost}: 'none')"


class ModeDriver:
    """Drives one task; subclasses implement its mode. ``expect_exit`` marks process ends we asked for."""

    def __init__(self, task: TaskProcess, notify: Notify):
        self.task = task
        self.notify = notify
        self.expect_exit = False

    async def started(self, timeout: float) -> None:
        """Called once the process (if any) was launched; returns when the task is STANDBY."""

    async def transition(self, event: str, arguments: Arguments, timeout: float) -> None:
        """Apply OCC ``event`` (CONFIGURE, START, STOP, RESET, RECOVER, EXIT); raise TransitionFailed."""
        self.set_state(states.EXPECTED_FINAL_STATE[event])

    async def walk_to_done(self, step_timeout: float) -> bool:
        """Take the task down to DONE by transitions; False if that is not possible."""
        return False

    async def close(self) -> None:
        """Drop connections (never the process)."""

    def set_state(self, state: str) -> None:
        if state and state != self.task.state:
            self.task.state = state
            self.notify("state", self.task, state)


class OccDriver(ModeDriver):
    """A process speaking OCC protobuf (``direct``) or, for FairMQ devices, the OCClite JSON codec."""

    #: processes of this core waiting for their control port to listen (they share POLLS_PER_SECOND)
    starting = 0

    def __init__(self, task: TaskProcess, notify: Notify, *, state_stream: bool = False):
        super().__init__(task, notify)
        self.client = OccClient(f"127.0.0.1:{task.control_port}", task.transport or DIRECT)
        self.state_stream = state_stream
        self._streams_open = False
        self._reporting: set[asyncio.Task] = set()

    async def started(self, timeout: float) -> None:
        """STANDBY, or at once a failure saying how the process ended (exit status, last output) if it does.

        The wait runs in the caller's task, which the process's end cancels: racing two tasks of their own (the
        wait and the process's end) cost the loop 35 us more per task than this."""
        process = self.task.process
        if process is None:
            return await self._reach_standby(timeout)
        this = asyncio.current_task()
        assert this is not None
        ended = process.ended()
        waiting, stopped = True, False

        def stop(_: asyncio.Future) -> None:
            nonlocal stopped
            if waiting:  # (not once the wait is over: the cancel would hit the caller's next await)
                stopped = True
                this.cancel()

        ended.add_done_callback(stop)
        try:
            return await self._reach_standby(timeout)
        except asyncio.CancelledError:
            if not stopped or this.cancelling() > 1:  # cancelled by someone else (too)
                raise
            this.uncancel()
        finally:
            waiting = False
            ended.remove_done_callback(stop)
        raise await self._ended_during_startup(ended.result())

    async def _ended_during_startup(self, code: int | None) -> TransitionFailed:
        how = f"was killed by signal {-code}" if code is not None and code < 0 else f"exited with code {code}"
        tail = _tail(self.task.stderr_path) or _tail(self.task.stdout_path)
        output = f"{LAST_OUTPUT}{tail[-2000:]}" if tail else _no_output(self.task)
        port = self.task.control_port
        if listening(port):  # the process died because someone else listens on its port
            return PortTaken(f"{describe(self.task)} {how} during startup: its control port {port} is taken{output}")
        return TransitionFailed(f"{describe(self.task)} {how} before reaching STANDBY{output}")

    async def _reach_standby(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        await self._wait_listening(deadline, timeout)
        while True:
            remaining = deadline - time.monotonic()
            try:
                info = await self.client.get_state(timeout=max(remaining, 0.1), wait_for_ready=True)
            except DeadlineError as exc:
                raise self._startup_error(f"GetState failed: {exc.message}", timeout) from None
            except HandledError as exc:
                raise self._startup_error(f"GetState failed: {exc.message}") from None
            state = self.occ_state(info.state)
            if state == states.STANDBY:
                break
            if state in (states.ERROR, states.DONE):
                raise self._startup_error(f"it reported {info.state} instead of STANDBY")
            if time.monotonic() + STATE_POLL > deadline:
                raise self._startup_error(f"it is still {info.state}", timeout)
            await asyncio.sleep(STATE_POLL)
        process = self.task.process
        if info.pid and process is not None and not process.owns(info.pid):
            raise PortTaken(
                f"{describe(self.task)}: its control port {self.task.control_port} is answered by another process "
                f"(pid {info.pid})"
            )
        self.task.pid = info.pid or self.task.pid
        self.task.state = states.STANDBY
        self.open_streams()

    async def _wait_listening(self, deadline: float, timeout: float) -> None:
        """Look at the control port (``listening``) until it listens: cheaper and quicker than gRPC reconnect backoff.

        Only a look that began after the deadline fails the task: with thousands of tasks starting, a look may
        wait its turn in the core's loop long past the deadline, and that wait is the core's, not the task's."""
        OccDriver.starting += 1
        try:
            while True:
                began = time.monotonic()
                if listening(self.task.control_port):
                    return
                if began > deadline:
                    raise self._startup_error(f"nothing listens on its control port {self.task.control_port}", timeout)
                await asyncio.sleep(poll_interval(OccDriver.starting))
        finally:
            OccDriver.starting -= 1

    def _startup_error(self, what: str, timeout: float | None = None) -> TransitionFailed:
        """``timeout``: the time ran out (the message says how long it was); None: the task failed before."""
        if timeout is None:
            return TransitionFailed(
                f"{describe(self.task)} did not reach STANDBY: {what}",
                hint="check the task's output with 'coconut task logs'",
            )
        return TransitionFailed(
            f"{describe(self.task)} did not reach STANDBY within {timeout:g} s: {what}",
            hint="raise the setting core.startup_timeout, or check the task's output with 'coconut task logs'",
        )

    def occ_state(self, state: str) -> str:
        return state

    def wire_state(self) -> str | None:
        """The state the process last told us, in its own words; None if we know none worth trusting."""
        return self.task.state if self.task.state in states.EXPECTED_FINAL_STATE.values() else None

    def open_streams(self) -> None:
        """Open the process's EventStream (and its StateStream if asked), once; they stay open until the
        process ends them: a real OCClib process serves one subscriber of each, and a second one deafens the first.
        """
        if self._streams_open:
            return
        self._streams_open = True
        if self.state_stream and self.client.mode == DIRECT:
            self.client.on_state(self._state_update)
        self.client.on_event(self._device_event)

    def _state_update(self, update: StateUpdate) -> None:
        if update.type == "STATE_STABLE":
            self.set_state(self.occ_state(update.state))

    def _device_event(self, event: str) -> None:
        if event == "NULL_DEVICE_EVENT":  # OCClite: the device is EXITING or in ERROR; the stream ends
            return
        if event == "TASK_INTERNAL_ERROR" and not self.state_stream:
            # the process went to ERROR on its own; with no StateStream, ask where it is before telling
            reporting = asyncio.get_running_loop().create_task(self._refresh_then_report(event))
            self._reporting.add(reporting)
            reporting.add_done_callback(self._reporting.discard)
            return
        self.notify("event", self.task, event)

    async def _refresh_then_report(self, event: str) -> None:
        await self._refresh_state()
        self.notify("event", self.task, event)

    async def _refresh_state(self) -> None:
        """The state the process says it is in, if it answers (without a StateStream the core learns states from
        replies only)."""
        with contextlib.suppress(HandledError):
            info = await self.client.get_state(timeout=REFRESH_TIMEOUT)
            self.set_state(self.occ_state(info.state))

    async def transition(self, event: str, arguments: Arguments, timeout: float) -> None:
        target = states.EXPECTED_FINAL_STATE[event]
        if event == states.EXIT:
            self.expect_exit = True
        result = await self._send(self.task.state, event, arguments, timeout)
        self.set_state(result.state)
        if not result.reached(target):
            raise self._failed(event, result, target)

    async def _send(self, source: str, event: str, arguments: Arguments | None, timeout: float) -> TransitionResult:
        try:
            return await self.client.transition(source, event, arguments, timeout=timeout)
        except DeadlineError:
            setting = (
                "core.configure_timeout"
                if event in (states.CONFIGURE, fairmq.INIT_DEVICE)
                else "core.transition_timeout"
            )
            raise TransitionFailed(
                f"{describe(self.task)}: {event} got no answer within {timeout:g} s (setting {setting})"
            ) from None
        except HandledError as exc:
            if isinstance(exc, RefusedError):  # in another state than this core's record says: a transition its
                # previous controller (a core since killed) gave up on went on to its end, as OCClib's do
                await self._refresh_state()
            raise TransitionFailed(f"{describe(self.task)}: {event} failed: {exc.message}") from None

    def _failed(self, event: str, result: TransitionResult, target: str) -> TransitionFailed:
        return TransitionFailed(
            f"{describe(self.task)}: {event} ended in {result.state} (expected {target}, ok={result.ok}, "
            f"trigger {result.trigger})"
        )

    async def walk_to_done(self, step_timeout: float) -> bool:
        """The states on the way are reported as they come; DONE only with the process's end (or the kill's),
        together with INACTIVE: one change, not two (a destroy of N tasks published 2N task events for them)."""
        self.expect_exit = True

        def reached(state: str) -> None:
            state = self.occ_state(state)
            if state == states.DONE:
                self.task.state = state
            else:
                self.set_state(state)

        walked = await shutdown.walk_to_done(
            self.client, step_timeout=step_timeout, on_state=reached, state=self.wire_state()
        )
        if walked:
            self.task.state = states.DONE
        return walked

    async def close(self) -> None:
        for reporting in list(self._reporting):
            reporting.cancel()
        await self.client.close()


class FairMQDriver(OccDriver):
    """A FairMQ device: each OCC transition is a sequence of FairMQ events (reference §5.4)."""

    def __init__(self, task: TaskProcess, notify: Notify, *, state_stream: bool = False):
        super().__init__(task, notify, state_stream=state_stream)
        self.fmq_state = fairmq.IDLE

    def occ_state(self, state: str) -> str:
        self.fmq_state = state
        return fairmq.TO_OCC.get(state, state)

    def wire_state(self) -> str | None:
        return self.fmq_state if self.fmq_state != fairmq.IDLE else None

    async def transition(self, event: str, arguments: Arguments, timeout: float) -> None:
        steps = fairmq.steps_for(event, self.fmq_state)
        if steps is None:
            raise TransitionFailed(f"{describe(self.task)}: {event} is not possible from FairMQ state {self.fmq_state}")
        if event == states.EXIT:
            self.expect_exit = True
        for step in steps:
            result = await self._send(step.source, step.event, arguments if step.with_arguments else None, timeout)
            self.set_state(self.occ_state(result.state))
            expected = fairmq.EXPECTED_FINAL_STATE[step.event]
            if not result.reached(expected):
                if event == states.CONFIGURE and result.state in fairmq.ROLLBACK_FROM:
                    with contextlib.suppress(TransitionFailed):
                        back = await self._send(result.state, fairmq.RESET_DEVICE, None, timeout)
                        self.set_state(self.occ_state(back.state))
                raise TransitionFailed(
                    f"{describe(self.task)}: {event} stopped at FairMQ {step.event}: the device is {result.state} "
                    f"(expected {expected}, trigger {result.trigger})"
                )


class BasicDriver(ModeDriver):
    """A process started at START and killed (its process group, SIGKILL) at STOP."""

    def __init__(self, task: TaskProcess, notify: Notify, launch: Launch):
        super().__init__(task, notify)
        self._launch = launch

    async def transition(self, event: str, arguments: Arguments, timeout: float) -> None:
        if event == states.START:
            self.expect_exit = False
            if not _running(self.task):  # one that runs already (re-attached after a restart) is the task
                await self._launch(self.task)
        elif event in (states.STOP, states.EXIT, states.RESET) and self.task.process is not None:
            self.expect_exit = True
            self.task.process.signal(signal.SIGKILL)
            await self.task.process.wait()
        await super().transition(event, arguments, timeout)


class HookDriver(ModeDriver):
    """A process run to completion each time its trigger fires; transitions are bookkeeping only."""

    def __init__(self, task: TaskProcess, notify: Notify, launch: Launch):
        super().__init__(task, notify)
        self._launch = launch

    async def trigger(self, timeout: float) -> HookResult:
        earlier = self.task.process
        if _running(self.task) and earlier is not None:
            # a run started by a core that died mid-transition: its result is lost with it; one copy at a time
            log.warning(
                "%s: killing its earlier run (pid %d) before running it again", describe(self.task), earlier.pid
            )
            self.expect_exit = True
            await shutdown.signal_down(earlier)
        self.expect_exit = False
        for path in (self.task.stdout_path, self.task.stderr_path):
            if path:
                Path(path).unlink(missing_ok=True)
        process = await self._launch(self.task)
        timed_out = False
        try:
            if timeout > 0:
                code = await asyncio.wait_for(asyncio.shield(process.wait()), timeout)
            else:
                code = await asyncio.shield(process.wait())
        except TimeoutError:
            timed_out = True
            self.expect_exit = True
            process.signal(signal.SIGKILL)
            code = await process.wait()
        except asyncio.CancelledError:  # the caller's own time limit: the run must not outlive it
            self.expect_exit = True
            process.signal(signal.SIGKILL)
            raise
        return hook_result(self.task, code, timed_out=timed_out, timeout=timeout)


def poll_interval(starting: int) -> float:
    """Seconds between two looks at the control port of one of ``starting`` processes that start at once."""
    return min(POLL_INTERVAL_MAX, max(POLL_INTERVAL, starting / POLLS_PER_SECOND))


def listening(port: int) -> bool:
    """Whether a process listens on ``port`` of the loopback address: a bind of the port fails. A look that makes
    no connection: a connect (and close) cost the loop 0.3-0.5 ms under load, and the task an accept, at each of
    the thousands of looks a deploy makes; this costs 20-40 us. A control port is served by gRPC, which binds
    with SO_REUSEADDR as this look does, so the look, bound for microseconds, never keeps it from binding."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


def hook_result(task: TaskProcess, code: int | None, *, timed_out: bool = False, timeout: float = 0.0) -> HookResult:
    """The ``taskResult.*`` of a finished hook or basic task run."""
    # what its resource manager knows beyond the code (a batch job's memory limit, an agent job cancelled)
    end_reason = task.process.end_reason if task.process is not None and not timed_out and code != 0 else ""
    if timed_out:
        status, error = "KILLED", f"hook task {task.request.role_path} timed out after {timeout:g}s"
    elif code == 0:
        status, error = "FINISHED", ""
    elif code is not None and code < 0:
        status, error = "KILLED", f"killed by signal {-code}"
    else:
        status, error = "FAILED", f"exited with code {code}" if code is not None else "ended (exit code unknown)"
    error = f"{error}: {end_reason}" if end_reason else error
    return HookResult(
        exit_code=-1 if code is None else code,
        stdout=_tail(task.stdout_path),
        stderr=_tail(task.stderr_path),
        voluntary=not timed_out and (code is None or code >= 0),
        final_status=status,
        error=error,
        end_reason=end_reason,
    )


def _running(task: TaskProcess) -> bool:
    return task.process is not None and task.process.alive()


def state_after_unexpected_exit(task: TaskProcess) -> str:
    """An OCC process that ends without being asked is in ERROR (a crash, or an exit nobody requested)."""
    return states.ERROR if task.state != states.DONE else states.DONE
