"""A real server the tests need but cannot find: skipped with one reason, or a failure in CI (tests/servers.py)."""

from __future__ import annotations

import sys

import pytest

from .servers import need_program


def test_a_missing_server_is_skipped_with_its_package_outside_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    reason = r"^no-such-server is not installed \(Debian package no-such-package; \.ci/run installs it\)$"
    with pytest.raises(pytest.skip.Exception, match=reason):
        need_program("no-such-server", "no-such-package")


def test_a_missing_server_fails_in_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"^CI=true and no-such-server is not installed \(Debian"):
        need_program("no-such-server", "no-such-package", path="/nonexistent/no-such-server")


def test_an_installed_server_is_found_by_name_or_path(monkeypatch):
    monkeypatch.setenv("CI", "true")
    assert need_program("no-such-server", "python3", path=sys.executable) == sys.executable
