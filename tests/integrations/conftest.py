"""The engine harness of tests/environment (a manager over in-process tasks) for plugin behaviours."""

from tests.environment.conftest import config, harness_factory, small_repo

__all__ = ["config", "harness_factory", "small_repo"]
