"""The operations tests run coconut against a real core as the end-to-end tests do: same fixture."""

from tests.e2e.conftest import coconut  # noqa: F401  (the fixture: coconut, its own core and directories)
