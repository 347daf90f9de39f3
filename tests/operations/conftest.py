"""The operations tests run coconut against a real core as the end-to-end tests do (same fixture), and the engine's
own tests (restart events) use the environment tests' in-process harness."""

from tests.e2e.conftest import coconut  # noqa: F401  (the fixture: coconut, its own core and directories)
from tests.environment.conftest import config, harness_factory  # noqa: F401  (an engine over in-process tasks)
