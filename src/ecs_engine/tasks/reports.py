"""What tasks report back, in the words both sides of the task port use.

The engine's port (``environment.taskport``) and the executor (``tasks.executor``) speak of a task's
status, of how a hook or basic run ended and of what a deployment gave with these same types. They live
here, below the engine, because the executor must not import ``environment``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Generic, TypeVar


class TaskStatus(enum.StrEnum):
    """A task's status as AliECS reports it (a task role shows its task's); UNKNOWN: a state nobody reported."""

    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    UNKNOWN = "UNKNOWN"


ACTIVE, INACTIVE, UNKNOWN = TaskStatus.ACTIVE, TaskStatus.INACTIVE, TaskStatus.UNKNOWN

T = TypeVar("T")


@dataclass(frozen=True)
class HookResult:
    """How a hook or basic task's run ended; the engine records it as ``taskResult.*`` on the role.

    ``exit_code`` is negative for a signal, -1 when it cannot be known (a process re-attached after a
    restart); ``voluntary`` is false when the run was killed (a signal, its time limit); ``error`` says
    why a run did not finish well, for logs.
    """

    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""
    voluntary: bool = True
    final_status: str = "FINISHED"  # FINISHED, FAILED, KILLED, TIMEOUT, LOST
    error: str = ""
    end_reason: str = ""  # what ended it beyond the code, when known (its job's memory limit, its agent job cancelled)

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.voluntary

    @property
    def how(self) -> str:
        """How the process ended, in the executor's words: ``exited with code 1``, ``killed by signal 9``."""
        return self.error or "exited with code 0"


@dataclass
class Deployment(Generic[T]):
    """What a deploy gave: the tasks started, and why each role without one could not have it."""

    tasks: list[T]
    undeployable: dict[str, str] = field(default_factory=dict)  # role path -> reason
