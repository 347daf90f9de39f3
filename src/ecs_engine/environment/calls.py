"""One call of an integration function by a call role: its variables, its evaluation, its outcome.

A new ``Call`` is made each time the role's trigger fires. Its variable stack is the role's consolidated
stack plus the ``__call_*`` variables (reference §2.3); the role's ``func`` is evaluated as a template
expression with each plugin's call stack under the plugin's name. A coroutine result is awaited. Failure
is an evaluation error or a non-empty ``__call_error`` written by the plugin.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, Protocol

from ecs_engine.errors import HandledError
from ecs_engine.events import model
from ecs_engine.protocols import events_pb2
from ecs_engine.template import expr
from ecs_engine.template.model import CALL_VARIABLES, Env, Role


class CallHost(Protocol):
    """What a call needs of its environment: its id, where events go, the plugins' objects."""

    @property
    def id(self) -> str: ...

    def publish(self, event: model.Event) -> None: ...

    def call_objects(self, call: Call) -> Mapping[str, Any]:
        """The objects ``func`` is evaluated against: each integration plugin's call stack by name."""
        ...


class Call:
    """A call in flight; plugins read ``var_stack`` and write ``__call_error`` / ``__call_error_reason`` in it."""

    def __init__(self, env: CallHost, role: Role):
        traits = role.traits
        assert traits is not None and traits.trigger is not None
        self.env = env
        self.role = role
        self.func = role.func
        self.trigger = traits.trigger
        self.await_ = traits.await_ or traits.trigger
        self.timeout = traits.timeout
        self.timeout_text = traits.timeout_text
        self.critical = traits.critical
        stack = role.stack()
        stack["environment_id"] = env.id
        call = (role.func, traits.timeout_text, str(self.trigger), str(self.await_), str(traits.critical).lower())
        stack.update(zip(CALL_VARIABLES, (*call, role.path), strict=True))
        self.var_stack: dict[str, str] = stack
        self.output = ""
        self.error = ""

    @property
    def environment_id(self) -> str:
        return self.env.id

    @property
    def path(self) -> str:
        return self.role.path

    def traits_message(self) -> events_pb2.Traits:
        return model.traits(str(self.trigger), str(self.await_), self.timeout_text, self.critical)

    def publish(
        self,
        operation: str,
        status: model.OpStatus,
        *,
        step: str = "",
        step_status: model.OpStatus = model.NULL,
        error: str = "",
        payload: str = "",
    ):
        """Let a plugin report its progress as an integrated-service event of this call's environment."""
        self.env.publish(
            model.integrated_service_event(
                self.env.id,
                service=self.role.path,
                operation=operation,
                status=status,
                step=step,
                step_status=step_status,
                error=error,
                payload=payload,
            )
        )

    async def run(self) -> bool:
        """Evaluate ``func``; store ``return``; publish the call events. True when the call succeeded."""
        self.env.publish(
            model.call_event(
                self.env.id, func=self.func, path=self.path, status=model.STARTED, call_traits=self.traits_message()
            )
        )
        try:
            result: Any = expr.compile_expression(self.func).evaluate(Env(self.env.call_objects(self), self.var_stack))
            if inspect.isawaitable(result):
                result = await result
            self.output = "" if result is None else expr.to_text(result)
            if self.var_stack.get("__call_error"):
                self.error = self.var_stack["__call_error"]
                reason = self.var_stack.get("__call_error_reason", "")
                if reason:
                    self.error += f". REASON: {reason}"
        except HandledError as exc:
            self.error = exc.render_plain()  # in events and reasons, for every client: no coconut hint
        except Exception as exc:  # a plugin bug fails this call, not the engine
            self.error = f"{type(exc).__name__}: {exc}"
        if not self.error and self.role.return_var:
            self.role.user_vars[self.role.return_var] = self.output
        self.env.publish(
            model.call_event(
                self.env.id,
                func=self.func,
                path=self.path,
                status=model.DONE_ERROR if self.error else model.DONE_OK,
                call_traits=self.traits_message(),
                output=self.output,
                error=self.error,
                returned=self.output if self.role.return_var else "",
            )
        )
        return not self.error

    def describe_error(self) -> str:
        return f"call {self.path} ({self.func}): {self.error}"
