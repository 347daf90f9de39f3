"""The mock-service framework: what a mock is, its script, its record of requests, and how it is served.

Each integration plugin module registers its mock through the ``ecs_mock_services`` hook; ``coconut mock NAME``
serves it. A gRPC mock adds its servicers to a ``grpc.aio`` server (``add_servicers``), reading its behaviour
from a ``Script`` (YAML or JSON; a bad one is one error naming the file and the line) and writing every request
it receives to a ``Recorder`` (``--record FILE``: JSON lines, flushed per request so that a test can read them
while the mock runs). ``serve`` binds loopback (a port in use is one clear error), says where it listens on
one line (``<name> mock listening on HOST:PORT``) and serves until SIGTERM/SIGINT. A mock that is a command
rather than a server (the CCDB's GRP tool) sets ``run`` instead.
"""

from __future__ import annotations

import asyncio
import json
import signal
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import grpc
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from ecs_engine.durations import parse_duration
from ecs_engine.errors import TemplateError, UsageError
from ecs_engine.events.model import now_ms
from ecs_engine.server.listening import SERVER_OPTIONS, bind
from ecs_engine.template.yamlload import YList, YMap, load_yaml

#: the line a served mock prints first, on stdout (tests and scripts wait for it)
LISTENING = "{name} mock listening on {address}"


class ScriptError(UsageError):
    """A mock script that cannot be read or says something the mock does not understand."""


class Script:
    """A mock's script: a YAML (or JSON) map whose values stay text, each with its line for errors."""

    def __init__(self, path: str, root: YMap):
        self.path = path
        self.root = root

    @classmethod
    def empty(cls) -> Script:
        return cls("(no script)", YMap(1))

    @classmethod
    def load(cls, path: str | Path) -> Script:
        """Read ``path``; any problem is one ``ScriptError`` naming the file (and the line when there is one)."""
        origin = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScriptError(f"{origin}: cannot read the script: {exc}") from None
        try:
            root = load_yaml(text, origin)
        except TemplateError as exc:
            raise ScriptError(exc.render().splitlines()[0]) from None
        if not isinstance(root, YMap):
            raise ScriptError(f"{origin}:1: a script is a map (keys such as those in the mock's --help)")
        return cls(origin, root)

    def error(self, message: str, line: int) -> ScriptError:
        return ScriptError(f"{self.path}:{line}: {message}")

    def check_keys(self, node: YMap, allowed: Iterable[str], where: str) -> None:
        """Refuse a key not in ``allowed`` (a typo would otherwise be ignored silently)."""
        known = list(allowed)
        for key in node:
            if key not in known:
                raise self.error(f"unknown key '{key}' in {where} (known: {', '.join(known)})", node.line_of(key))

    def mapping(self, node: YMap, key: str) -> YMap:
        """The map at ``key`` (an empty one when absent)."""
        value = node.get(key, YMap(node.line))
        if not isinstance(value, YMap):
            raise self.error(f"'{key}' must be a map", node.line_of(key))
        return value

    def items(self, node: YMap, key: str) -> YList:
        """The list at ``key`` (an empty one when absent)."""
        value = node.get(key, YList(node.line))
        if not isinstance(value, YList):
            raise self.error(f"'{key}' must be a list", node.line_of(key))
        return value

    def text(self, node: YMap, key: str, default: str = "") -> str:
        value = node.get(key, default)
        if not isinstance(value, str):
            raise self.error(f"'{key}' must be a single value", node.line_of(key))
        return value

    def seconds(self, node: YMap, key: str, default: float = 0.0) -> float:
        """A duration: Go style (``500ms``, ``2s``) or a number of seconds."""
        text = self.text(node, key, "")
        if not text:
            return default
        try:
            return float(text)
        except ValueError:
            pass
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise self.error(f"'{key}': {exc}", node.line_of(key)) from None

    def grpc_failure(self, node: YMap, key: str, operation: str) -> tuple[grpc.StatusCode, str]:
        """``"CODE: details"`` (a gRPC status name, e.g. ``UNAVAILABLE: down``) as (code, details)."""
        code, _, details = self.text(node, key).partition(":")
        if code.strip() not in grpc.StatusCode.__members__:
            codes = ", ".join(grpc.StatusCode.__members__)
            raise self.error(f"unknown gRPC status '{code.strip()}' (known: {codes})", node.line_of(key))
        return grpc.StatusCode[code.strip()], details.strip() or f"{operation} fails (script)"

    def choice(self, node: YMap, key: str, choices: Iterable[str], default: str = "") -> str:
        value = self.text(node, key, default)
        known = list(choices)
        if value not in known:
            raise self.error(f"'{key}' is '{value}', expected one of {', '.join(known)}", node.line_of(key))
        return value

    def grpc_status(self, node: YMap, key: str, operation: str) -> tuple[grpc.StatusCode, str] | None:
        """``grpc_failure`` of an optional key: None when the script does not give it."""
        return self.grpc_failure(node, key, operation) if key in node else None


class Recorder:
    """Every request a mock receives, one JSON object a line (``time_ms``, ``operation``, ``request``...),
    flushed at once, appended to the file (a command mock runs once per request); without a file it keeps nothing."""

    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path else None
        self._file: TextIO | None = None
        self._lock = threading.Lock()
        if self.path is not None:
            try:
                self._file = self.path.open("a", encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"--record {self.path}: cannot write: {exc.strerror}") from None

    def record(self, operation: str, request: Message | Mapping[str, Any] | None = None, **fields: Any) -> None:
        """Write one request (a protobuf message is written as its JSON form, enum values by name)."""
        if self._file is None:
            return
        entry: dict[str, Any] = {"time_ms": now_ms(), "operation": operation}
        if isinstance(request, Message):
            entry["request"] = MessageToDict(request, always_print_fields_with_no_presence=True)
        elif request is not None:
            entry["request"] = dict(request)
        entry.update(fields)
        with self._lock:
            self._file.write(json.dumps(entry, sort_keys=True) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(frozen=True)
class CommandOption:
    """A required option of a command mock (``--broker HOST:PORT``); its value goes to ``run`` by name."""

    flag: str
    metavar: str
    help: str

    @property
    def name(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")


@dataclass(frozen=True)
class MockService:
    """One mock, as a plugin module contributes it through ``ecs_mock_services``."""

    #: ``coconut mock <name>``
    name: str
    #: one line: what it stands in for and which protocol it speaks
    summary: str
    #: what a script may say (the body of ``coconut mock <name> --help``)
    script_help: str = ""
    #: a gRPC mock: validates the script (raising ``ScriptError``) and adds its servicers to the server
    add_servicers: Callable[[grpc.aio.Server, Script, Recorder], None] | None = None
    #: a command mock: runs once with the arguments after ``--`` and the ``options`` by name; its exit status
    run: Callable[[Script, Recorder, list[str], Mapping[str, str]], int] | None = None
    #: a command mock's required options
    options: tuple[CommandOption, ...] = ()
    #: what a command mock's arguments after ``--`` are (its help); "": it takes none
    arguments: str = ""
    #: the port served when none is given (upstream's default endpoint); 0: any free port
    default_port: int = 0


async def serve(
    service: MockService,
    *,
    port: int | None,
    script: Script,
    recorder: Recorder,
    announce: Callable[[str], None],
    host: str = "127.0.0.1",
) -> None:
    """Serve ``service`` on ``host:port`` until SIGTERM or SIGINT; ``announce`` gets the listening line once the
    server accepts connections."""
    if service.add_servicers is None:
        raise UsageError(f"mock {service.name} is a command, not a server: it takes no --port")
    server = grpc.aio.server(options=SERVER_OPTIONS)
    service.add_servicers(server, script, recorder)  # the script is checked before anything listens
    chosen = service.default_port if port is None else port
    who = f"mock {service.name}"
    bound = bind(server, f"{host}:{chosen}", tls_cert="", tls_key="", who=who, hint="choose another --port")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await server.start()
    announce(LISTENING.format(name=service.name, address=f"{host}:{bound}"))
    try:
        await stop.wait()
    finally:
        await server.stop(0.5)
        recorder.close()
