"""Environments: the state machine of a workflow's tasks, its hooks and calls, runs, and their durability.

Public API: ``EnvironmentManager`` (create/control/destroy, detectors, reload), ``Environment``, the
task-control interface (``TaskController`` and its records) that executors implement, the in-process
``InProcessDriver``, and ``IntegrationPlugin`` for integration plugins.
"""

from .environment import EngineSettings, Environment, EnvironmentServices, TeardownReport, TransitionError
from .fake_tasks import InProcessDriver
from .integration_plugin import IntegrationPlugin
from .integrations import Integrations
from .manager import CreateError, EnvironmentManager
from .taskport import (
    Deployment,
    DeployRequest,
    HookResult,
    KillReport,
    Task,
    TaskController,
    TaskEvent,
    TaskReply,
)

__all__ = [
    "CreateError",
    "DeployRequest",
    "Deployment",
    "EngineSettings",
    "Environment",
    "EnvironmentManager",
    "EnvironmentServices",
    "HookResult",
    "InProcessDriver",
    "IntegrationPlugin",
    "Integrations",
    "KillReport",
    "Task",
    "TaskController",
    "TaskEvent",
    "TaskReply",
    "TeardownReport",
    "TransitionError",
]
