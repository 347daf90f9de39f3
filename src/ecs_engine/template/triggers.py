"""Hook trigger and await expressions: ``<moment>[+-N]`` parsed into (moment, weight)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ecs_engine import fsm

from .yamlload import did_you_mean

KNOWN_MOMENTS = frozenset(fsm.known_moments())


@dataclass(frozen=True, order=True)
class Trigger:
    """A moment and an ordering weight: negative weights run before the moment's own work."""

    moment: str
    weight: int = 0

    def __str__(self) -> str:
        if self.weight == 0:
            return self.moment
        return f"{self.moment}{self.weight:+d}"

    @property
    def known(self) -> bool:
        return self.moment in KNOWN_MOMENTS


@functools.lru_cache(maxsize=4096)
def parse_trigger(text: str) -> tuple[Trigger, str | None]:
    """Split at the last ``+``/``-``; a bare EVENT means after_EVENT and a bare STATE enter_STATE.

    Returns the trigger and a warning (bad weight suffix, unknown moment) or None.
    """
    text = text.strip()
    moment, weight, warning = text, 0, None
    cut = max(text.rfind("+"), text.rfind("-"))
    if cut > 0:
        suffix = text[cut:]
        try:
            weight = int(suffix)
            moment = text[:cut]
        except ValueError:
            warning = f"trigger '{text}': weight '{suffix}' is not an integer, using 0"
            moment = text[:cut]
    moment = moment.strip()
    if moment in fsm.TRANSITIONS:
        moment = f"after_{moment}"
    elif moment in fsm.STATES:
        moment = f"enter_{moment}"
    trigger = Trigger(moment, weight)
    if warning is None and not trigger.known:
        warning = f"trigger '{text}': unknown moment '{moment}', it never fires{did_you_mean(moment, KNOWN_MOMENTS)}"
    return trigger, warning
