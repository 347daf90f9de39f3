"""The global ``--config-endpoint`` with core commands: a core coconut starts opens that store; a running core
with another store refuses the flag instead of ignoring it."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_the_started_core_opens_the_flags_store_and_another_store_is_refused(coconut, tmp_path):
    store = f"sqlite:///{tmp_path / 'site.sqlite'}"
    framework = coconut("--config-endpoint", store, "info", "-o", "json").json()["framework"]
    assert framework["configurationEndpoint"] == store
    assert coconut("--config-endpoint", store, "env", "list").status == 0

    other = f"sqlite:///{tmp_path / 'other.sqlite'}"
    result = coconut("--config-endpoint", other, "env", "list", check=False)
    assert result.status == 2
    assert f"--config-endpoint {other}: the core at 127.0.0.1:{coconut.port} uses the configuration store {store}" in (
        result.err
    )
    assert "Traceback" not in result.err
