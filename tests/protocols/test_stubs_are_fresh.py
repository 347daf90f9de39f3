"""The committed stubs are exactly what ``python -m ecs_engine.protocols.generate`` produces from the .proto files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import ecs_engine.protocols

PACKAGE_DIR = Path(ecs_engine.protocols.__file__).parent


def test_regenerating_gives_byte_identical_stubs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "ecs_engine.protocols.generate", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    fresh_dir = tmp_path / "ecs_engine" / "protocols"
    fresh = {p.name: p.read_bytes() for p in fresh_dir.glob("*_pb2*")}
    committed = {p.name: p.read_bytes() for p in PACKAGE_DIR.glob("*_pb2*")}
    assert sorted(fresh) == sorted(committed), "stub files differ; run python -m ecs_engine.protocols.generate"
    stale = [name for name in fresh if fresh[name] != committed[name]]
    assert not stale, f"stale stubs {stale}; run python -m ecs_engine.protocols.generate"
    protos = sorted(p.stem for p in (PACKAGE_DIR / "protos").glob("*.proto"))
    assert sorted({name.split("_pb2")[0] for name in fresh}) == protos
