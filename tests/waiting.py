"""Waiting on a condition with a deadline, never a fixed sleep: one helper for plain tests, one for async ones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any


# A plain test's look often runs the CLI in a new process (0.5-3 s on a loaded 2-core machine): 30 s, not 15.
def eventually(condition: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    """``condition()``'s first true value, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        time.sleep(0.05)
    return value


async def eventually_async(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """The same for a test on the event loop: the loop runs on between looks."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        await asyncio.sleep(0.01)
    return value
