"""The ``dcs`` integration (AliECS ``core/integration/dcs``, integrations.md §1.2)."""

from __future__ import annotations

from ecs_engine.hookspecs import MockServiceDescription, hookimpl


@hookimpl
def ecs_mock_services() -> list[MockServiceDescription]:
    from ecs_backends.mocks.dcs import MOCK

    return [MOCK]
