"""The e2e fixtures (a real core on a free port in tmp dirs) for the fault-injection tests."""

from ..e2e.conftest import coconut

__all__ = ["coconut"]
