"""A non-editable install carries the built-in examples: wheels built from the tree and from its sdist.

The wheels are built from a copy of the checkout (the files git would commit), so the shared work tree gets no
``build/`` or ``*.egg-info`` from the test. The installed package runs with ``python -S`` and a PYTHONPATH of the
install target and the venv's site-packages only: the editable install's ``src`` is not on its path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
PACKAGED = "ecs_engine/examples/data"


def _example_files() -> dict[str, bytes]:
    """Every file of the checkout's examples (``workflows/``, ``tasks/``, the site file), with its contents."""
    return {
        path.relative_to(EXAMPLES).as_posix(): path.read_bytes()
        for path in EXAMPLES.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


def _run(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def _copy_checkout(dest: Path) -> Path:
    """The files of the checkout that git tracks or would add (ignored build output left out)."""
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], REPO).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file():  # tracked but deleted in the work tree: skip
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _build_wheel(source: Path, out: Path) -> Path:
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(out), "."], source)
    (wheel,) = out.glob("*.whl")
    return wheel


def _build_sdist(source: Path, out: Path) -> Path:
    """The PEP 517 ``build_sdist`` hook, as ``python -m build`` calls it, unpacked into ``out``."""
    code = "import sys; from setuptools import build_meta; print(build_meta.build_sdist(sys.argv[1]))"
    name = _run([sys.executable, "-c", code, str(out)], source).stdout.strip().splitlines()[-1]
    with tarfile.open(out / name) as archive:
        archive.extractall(out, filter="data")
    return out / name.removesuffix(".tar.gz")


@pytest.fixture(params=["tree", "sdist"])
def wheel(request, tmp_path: Path) -> Path:
    tree = _copy_checkout(tmp_path / "checkout")
    if request.param == "sdist":
        tree = _build_sdist(tree, tmp_path / "sdist")
    return _build_wheel(tree, tmp_path / "wheel")


def test_installed_wheel_finds_and_runs_the_examples(wheel: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        packaged = {
            name.removeprefix(f"{PACKAGED}/"): archive.read(name)
            for name in archive.namelist()
            if name.startswith(f"{PACKAGED}/") and not name.endswith("/")
        }
    assert packaged == _example_files()

    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)], tmp_path)
    home = tmp_path / "home"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), sysconfig.get_paths()["purelib"]]),
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_STATE_HOME": str(home / "state"),
    }
    python = [sys.executable, "-S"]  # no site: the editable install's .pth (src/) stays off the path

    shown = _run(
        [
            *python,
            "-c",
            "import sys; from ecs_engine.examples import examples_dir; print(sys.path); print(examples_dir())",
        ],
        tmp_path,
        env,
    ).stdout.splitlines()
    assert str(REPO / "src") not in shown[0]
    found = Path(shown[1])
    assert found == site / PACKAGED
    assert sorted(p.name for p in (found / "workflows").iterdir()) == sorted(
        name.removeprefix("workflows/") for name in _example_files() if name.startswith("workflows/")
    )

    # a built-in workflow by name, from a directory that is not a template repository
    workdir = tmp_path / "work"
    workdir.mkdir()
    planned = _run([*python, "-m", "coconut", "template", "plan", "-w", "dataflow-demo", "-o", "json"], workdir, env)
    assert "ecs_engine.examples.producer" in planned.stdout
    _run([*python, "-m", "coconut", "template", "validate", str(found)], workdir, env)
