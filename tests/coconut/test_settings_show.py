"""``coconut settings show``: a setting whose built-in default is "" shows what it stands for, as ``about`` does."""

from __future__ import annotations

import json

from .conftest import Runner


def test_empty_defaults_show_the_value_they_stand_for_and_that_it_is_the_default(coconut: Runner):
    (coconut.tmp / "config" / "settings.yaml").write_text("endpoint: 127.0.0.1:32999\n")
    store = f"sqlite:///{coconut.tmp / 'data' / 'config.sqlite'}"
    result = coconut("settings", "show", "--origin")
    assert result.status == 0, result.err
    rows = {line.split()[0]: line.split()[1:] for line in result.out.splitlines()[3:] if line.strip()}
    assert rows["config_endpoint"] == [store, "default"]
    assert rows["core.listen"] == ["127.0.0.1:32999", "default", "(=", "endpoint)"]
    assert rows["core.config_endpoint"] == [store, "default", "(=", "config_endpoint)"]
    assert f"config endpoint: {store} (default)" in coconut("about").out

    data = json.loads(coconut("--config-endpoint", "memory://", "settings", "show", "--origin", "-o", "json").out)
    assert (
        data["settings"]["core.config_endpoint"] == "memory://" and data["settings"]["config_endpoint"] == "memory://"
    )
    assert data["origins"]["config_endpoint"] == "flag --config-endpoint"
