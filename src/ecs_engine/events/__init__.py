"""Events of environments, tasks, roles, calls, runs and integrated services (events.proto).

``model`` builds the protocol messages, ``bus`` delivers them in-process, ``journal`` keeps them in SQLite.
"""

from .bus import EventBus, Subscription
from .model import OpStatus

__all__ = ["EventBus", "OpStatus", "Subscription"]
