"""The README's test command on a fresh clone, which has no ``../shared`` (the AliECS corpus, the specs) beside it.

The clone is of the repository's HEAD (what is committed), in a temporary directory. To bound the time, the
inner run is the README's ``python -m pytest -q`` with ``-m "not slow"`` (the tests that read ``../shared``
are not slow ones, except the gRPC surface, which skips the same way), with this interpreter and
``PYTHONPATH`` at the clone's ``src`` (the same packages, installed nowhere new) and ``-p no:cacheprovider``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT
from tests.servers import need_program

pytestmark = pytest.mark.slow

SKIPPED = re.compile(r"^SKIPPED \[(\d+)\] \S+?:\d+: (.*)$", re.M)


def test_a_clone_without_shared_passes_and_skips_the_corpus_tests_with_one_reason(tmp_path: Path):
    git = need_program("git", "git")
    clone = tmp_path / "main"
    subprocess.run([git, "clone", "-q", "--no-hardlinks", str(REPO_ROOT), str(clone)], check=True, timeout=120)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "PYTEST_ADDOPTS", "PYTHONPATH")}
    env["PYTHONPATH"] = str(clone / "src")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not slow"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    tail = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, tail
    reason = f"needs {tmp_path / 'shared'} beside the repository (the AliECS template corpus and specs; not in the repository)"
    skipped = SKIPPED.findall(run.stdout)
    about_shared = [(int(count), why) for count, why in skipped if "shared" in why]
    assert {why for _, why in about_shared} == {reason}, tail
    # the corpus and spec tests not marked slow: 19 when written
    assert sum(count for count, _ in about_shared) >= 15, tail
