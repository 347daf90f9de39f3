"""What the core's gRPC server and its clients agree on beyond the .proto: metadata keys, optypes, limits.

The client imports this module, not the service, so a command line tool loads no server code.
"""

from __future__ import annotations

from ecs_engine import errors

#: trailing metadata: the class of the project's error behind a failed call, so clients raise the same one
ERROR_CLASS_KEY = "ecs-error-class"
#: trailing metadata: why a transition failed (ControlEnvironment answers OK with state ERROR, as upstream);
#: binary (UTF-8): a reason may hold a task's last lines of output, which a text header value may not
ERROR_REASON_KEY = "ecs-error-bin"
#: trailing metadata of a failed call (binary, UTF-8): the hint coconut shows under the message, in its own terms
#: (``HandledError.shown_hint``: its commands and flags); the status details, which every client shows, carry only
#: the message and the hint for any client (``HandledError.render_plain``)
ERROR_HINT_KEY = "ecs-hint-bin"
#: trailing metadata of a failed call (binary, UTF-8), sent only when the status details carry a hint for any client:
#: the message without it, which coconut shows above its own hint line
ERROR_MESSAGE_KEY = "ecs-message-bin"
#: the longest ``ERROR_MESSAGE_KEY`` sent (bytes): trailing metadata is bounded (8 KiB by default); beyond it,
#: coconut shows the status details as the message
MAX_ERROR_MESSAGE_BYTES = 4096
#: initial metadata of NewEnvironment: the new environment's id, sent as soon as it exists (before DEPLOY)
ENVIRONMENT_ID_KEY = "ecs-environment-id"
#: ControlEnvironment optypes beyond upstream (design.md §3)
OPTYPE_EXIT = 1000
OPTYPE_RECOVER = 1001
#: the largest message either side sends or accepts (large role trees and task lists)
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
#: the error classes ``ERROR_CLASS_KEY`` may name, by name
ERROR_CLASSES: dict[str, type[errors.HandledError]] = {
    cls.__name__: cls
    for cls in (
        errors.UsageError,
        errors.TemplateError,
        errors.NotFoundError,
        errors.RefusedError,
        errors.ConfigurationError,
        errors.DeadlineError,
        errors.UnreachableError,
        errors.HandledError,
    )
}
