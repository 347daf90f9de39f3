"""Real servers the tests start (etcd, sshd, ...): what happens when one is not installed.

The test session never installs anything (``.ci/run`` does, as root, before the tests). In CI (``CI=true``)
a missing server is a failure, so nothing the CI promises to test is silently skipped; elsewhere the test
is skipped with one reason naming the program and the Debian package that provides it.
"""

from __future__ import annotations

import os
import shutil

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def need_program(program: str, package: str, *, path: str | None = None) -> str:
    """The path of ``program`` (looked up on PATH, or ``path``); skips, or fails in CI, when it is missing."""
    found = path if path and os.access(path, os.X_OK) else shutil.which(program)
    if found:
        return found
    reason = f"{program} is not installed (Debian package {package}; .ci/run installs it)"
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def self_signed_certificate(directory) -> tuple[str, str]:
    """A certificate for 127.0.0.1 and localhost and its key (files in ``directory``), made with openssl."""
    import subprocess
    from pathlib import Path

    cert, key = Path(directory) / "cert.pem", Path(directory) / "key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"]
    names = ["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"]
    subprocess.run([*request, *names, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return str(cert), str(key)
