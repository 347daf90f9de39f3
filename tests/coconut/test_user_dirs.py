"""coconut's own directories are where platformdirs puts them (the core finds its settings and token there too),
though coconut reads them from the environment without importing platformdirs (issue 19)."""

from __future__ import annotations

import platformdirs
import pytest

from coconut.context import user_dir

ENVIRONMENTS = {
    "defaults": {"HOME": "/home/op"},
    "home with a slash": {"HOME": "/home/op/"},
    "root home": {"HOME": "/"},
    "XDG set": {"HOME": "/home/op", "XDG_CONFIG_HOME": "/x/c", "XDG_DATA_HOME": "/x/d/", "XDG_STATE_HOME": "/x/s"},
    "XDG relative (ignored)": {
        "HOME": "/home/op",
        "XDG_CONFIG_HOME": "c",
        "XDG_DATA_HOME": "./d",
        "XDG_STATE_HOME": "s",
    },
    "XDG empty": {"HOME": "/home/op", "XDG_CONFIG_HOME": "", "XDG_DATA_HOME": "", "XDG_STATE_HOME": ""},
    "XDG set, no home": {"XDG_CONFIG_HOME": "/x/c", "XDG_DATA_HOME": "/x/d", "XDG_STATE_HOME": "/x/s"},
}


@pytest.mark.parametrize("environ", ENVIRONMENTS.values(), ids=ENVIRONMENTS.keys())
@pytest.mark.parametrize("kind", ["config", "data", "state"])
def test_coconut_directories_are_platformdirs_ones(monkeypatch, environ, kind):
    for name in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    assert user_dir(kind) == getattr(platformdirs, f"user_{kind}_path")("coconut")
