"""The ``restart`` keyword of a task template or a task role: bring a non-critical long-running task back when its
process ends by itself (monitors, loggers, exporters).

    restart: {policy: on-failure, max: 3, window: 60s, backoff: 1s}

``policy``: ``on-failure`` (an exit code other than 0, or a signal) or ``always`` (any end the core did not ask
for). At most ``max`` restarts within ``window``: one more end and the task stays down (a crash loop). The n-th
restart in a window waits ``backoff`` * 2^(n-1), at most ``MAX_BACKOFF``. The role's value beats the template's.
Critical tasks are never restarted: their end sends the environment to ERROR as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ecs_engine.durations import parse_duration
from ecs_engine.errors import TemplateError

POLICIES = ("on-failure", "always")
KEYS = ("policy", "max", "window", "backoff")
MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class RestartPolicy:
    policy: str = "on-failure"
    max: int = 3
    window: float = 60.0
    window_text: str = "60s"
    backoff: float = 1.0

    def restarts_after(self, failed: bool) -> bool:
        """Whether an end the core did not ask for (``failed``: not exit code 0) is restarted."""
        return self.policy == "always" or failed

    def delay(self, attempt: int) -> float:
        """Seconds before the ``attempt``-th restart (1-based) of the current window."""
        return min(self.backoff * 2 ** (attempt - 1), MAX_BACKOFF)


def parse_restart(data: Any, *, file: str, line: int, field: str, role_path: str = "") -> RestartPolicy:
    """A ``restart`` map as written (no ``{{ }}``), or one TemplateError naming the key at fault."""
    where: dict[str, Any] = {"file": file, "line": line, "role_path": role_path or None}
    if not isinstance(data, dict):
        raise TemplateError(
            "'restart' must be a map: {policy: on-failure|always, max: K, window: 60s}", field=field, **where
        )
    unknown = [key for key in data if key not in KEYS]
    if unknown:
        raise TemplateError(
            f"unknown key '{unknown[0]}' (expected {', '.join(KEYS)})", field=f"{field}.{unknown[0]}", **where
        )
    policy = str(data.get("policy", "on-failure"))
    if policy not in POLICIES:
        raise TemplateError(f"expected on-failure or always, got '{policy}'", field=f"{field}.policy", **where)
    try:
        maximum = int(str(data.get("max", RestartPolicy.max)))
    except ValueError:
        maximum = 0
    if maximum < 1:
        raise TemplateError(f"expected a whole number, 1 or more, got '{data['max']}'", field=f"{field}.max", **where)
    seconds = {}
    for key, default in (("window", "60s"), ("backoff", "1s")):
        text = str(data.get(key, default))
        try:
            seconds[key] = parse_duration(text)
        except ValueError as exc:
            raise TemplateError(str(exc), field=f"{field}.{key}", **where) from None
        if seconds[key] < 0 or (key == "window" and seconds[key] == 0):
            raise TemplateError(f"expected a positive duration, got '{text}'", field=f"{field}.{key}", **where)
    window_text = str(data.get("window", "60s")).strip()
    return RestartPolicy(policy, maximum, seconds["window"], window_text, seconds["backoff"])
