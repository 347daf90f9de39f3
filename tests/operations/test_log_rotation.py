"""core.log is rotated by size (a small limit injected here), and stray writes to stderr follow the new file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import logging, os, sys
from pathlib import Path
from ecs_engine.server.core import rotate_own_log
state = Path(sys.argv[1])
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s", stream=sys.stderr)
assert rotate_own_log(state, max_bytes=1000, backups=2)
for i in range(100):
    logging.getLogger("x").info("line %03d %s", i, "." * 40)
os.write(2, b"raw stderr after rotation\\n")
"""


def test_core_log_rotates_by_size(tmp_path: Path) -> None:
    log = tmp_path / "core.log"
    with log.open("ab") as stream:  # as daemon.start does: the core's stdout and stderr are its core.log
        subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], stderr=stream, stdout=stream, check=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["core.log", "core.log.1", "core.log.2"]
    assert all(p.stat().st_size <= 1000 for p in tmp_path.iterdir())
    current = log.read_text()
    assert "INFO line 099" in current and current.endswith("raw stderr after rotation\n")
    assert "INFO line 000" not in current + (tmp_path / "core.log.1").read_text()


def test_foreground_core_keeps_its_stderr(tmp_path: Path) -> None:
    from ecs_engine.server.core import rotate_own_log

    assert not rotate_own_log(tmp_path)  # pytest's stderr is not tmp_path/core.log
    assert not (tmp_path / "core.log").exists()
