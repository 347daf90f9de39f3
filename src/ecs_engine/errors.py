"""The errors users see: one family, each rendered as one clear message, each mapped to an exit status.

Anything that is not a `HandledError` is a bug and is shown with its traceback only under `--debug`.
"""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Exit codes of every command line tool of the project (documented in docs/cli.md)."""

    OK = 0
    FAILED = 1  # the operation was attempted and failed (invalid template, transition error, ...)
    USAGE = 2  # bad command line: unknown flag, malformed argument
    UNREACHABLE = 3  # the core, a process or a store could not be reached
    TIMEOUT = 4  # a wait ran out of time
    REFUSED = 5  # the peer refused the request (illegal transition, state mismatch)
    WRONG_MODE = 6  # peanut: the process speaks another control mode
    INTERRUPTED = 130
    BROKEN_PIPE = 141  # the output's reader went away (`| head`): 128 + SIGPIPE, as the shell shows for GNU tools


class HandledError(Exception):
    """An error with a message meant for the user; rendered without traceback.

    Two hints, by audience: ``hint`` is for whoever reads the error, a coconut user or any other client of the
    core (the AliECS GUI, a script over gRPC): it names only what they share (a request's fields, the core's
    settings, states); ``cli_hint`` is the same advice in coconut's terms (its commands and flags), shown by coconut
    instead of ``hint`` and never sent to another client as text (docs/core.md, "The gRPC service").
    """

    exit_status: ExitStatus = ExitStatus.FAILED

    def __init__(self, message: str, *, hint: str | None = None, cli_hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.cli_hint = cli_hint

    def body(self) -> str:
        """The message with what locates it, without a hint."""
        return self.message

    def shown_hint(self) -> str | None:
        """The hint coconut (or peanut) shows: the command line's own if there is one."""
        return self.cli_hint or self.hint

    def render(self) -> str:
        """The text shown to the user of a command line tool (first line is the summary)."""
        text = self.body()
        hint = self.shown_hint()
        if hint:
            text += f"\n  hint: {hint}"
        return text

    def render_plain(self) -> str:
        """The text for any client of the core (a gRPC status's details): the body, then the hint for everyone,
        if any, in parentheses (on a line of its own after a multi-line body); never ``cli_hint``."""
        text = self.body()
        if self.hint:
            text += ("\n" if "\n" in text else " ") + f"({self.hint})"
        return text

    def __str__(self) -> str:
        return self.render()


class UsageError(HandledError):
    """A command line argument or request field that does not have the expected form."""

    exit_status = ExitStatus.USAGE


class UnreachableError(HandledError):
    exit_status = ExitStatus.UNREACHABLE


class DeadlineError(HandledError):
    """A wait ran out of time; the message names the value and the setting that changes it."""

    exit_status = ExitStatus.TIMEOUT


class RefusedError(HandledError):
    exit_status = ExitStatus.REFUSED


class NotFoundError(HandledError):
    """A named thing (environment, task, template, repository, key) does not exist."""


class ConfigurationError(HandledError):
    """The configuration store refused or could not answer a request."""


class StoreUrlError(ConfigurationError, UsageError):
    """A configuration store URL of the wrong form or of no installed scheme: a malformed argument or setting (exit
    2, as a bad ``--endpoint``), still a ConfigurationError to whoever catches the store's errors."""


class BadKeyError(ConfigurationError, UsageError):
    """A configuration key of the wrong form (empty, ``..``, ``//``): a malformed argument or request field (exit 2,
    INVALID_ARGUMENT over gRPC, not INTERNAL), still a ConfigurationError to whoever catches the store's errors."""


#: what gRPC says of a call that never reached its server; any other UNAVAILABLE means the server went away
#: during the call ("Cancelling all calls" when it stops, "Socket closed" or a reset when it dies)
_NOT_CONNECTED = ("failed to connect", "connection refused", "dns resolution failed", "name resolution", "no route")


def never_connected(details: str) -> bool:
    """Whether an UNAVAILABLE gRPC status with these details means no server was reached at all."""
    lowered = details.lower()
    return any(words in lowered for words in _NOT_CONNECTED)


def role_label(path: str) -> str:
    """``role <path>``; a path still holding ``{{ }}`` is a template's as written (``w.host-{{ it }}``), not a role's."""
    return f"role template {path}" if "{{" in path else f"role {path}"


class TemplateError(HandledError):
    """A workflow or task template is invalid.

    Carries where: file and line, the role path, the field, and for expressions the
    expression text with the failing position, so the message can point at it with a caret.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        role_path: str | None = None,
        field: str | None = None,
        expression: str | None = None,
        position: int | None = None,
        hint: str | None = None,
        column: int | None = None,
    ):
        super().__init__(message, hint=hint)
        self.file = file
        self.line = line
        self.column = column  # 1-based, where the file's text places it exactly (a YAML syntax error); for CI tools
        self.role_path = role_path
        self.field = field
        self.expression = expression
        self.position = position

    def located(self, **where: object) -> TemplateError:
        """Fill in location fields that are still unknown (inner code knows less than outer)."""
        for key, value in where.items():
            if value is not None and getattr(self, key, None) is None:
                setattr(self, key, value)
        return self

    def where(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line}" if self.line else self.file)
        if self.role_path:
            parts.append(role_label(self.role_path))
        if self.field:
            parts.append(f"field {self.field}")
        return ", ".join(parts)

    def body(self) -> str:
        where = self.where()
        text = f"{where}: {self.message}" if where else self.message
        if self.expression is not None:
            line, column = self.expression, self.position
            if column is not None and "\n" in line:  # show only the line holding the position
                start = line.rfind("\n", 0, column) + 1
                end = line.find("\n", column)
                line, column = line[start : end if end >= 0 else None], column - start
            text += f"\n    {line}"
            if column is not None:
                text += "\n    " + " " * column + "^"
        return text
