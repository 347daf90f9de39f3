"""Build step that ships the examples repository in the wheel.

The examples (``examples/workflows``, ``examples/tasks``) stay at the top of the source tree, one copy in git,
where a source checkout (and so an editable install) finds them. A wheel gets a copy of them as the package data
``ecs_engine/examples/data``, which ``ecs_engine.examples.examples_dir()`` finds after a normal install.
Everything else about the project is declared in pyproject.toml.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLES = Path(__file__).resolve().parent / "examples"
PACKAGED_AS = Path("ecs_engine", "examples", "data")


class BuildPyWithExamples(build_py):
    """``build_py`` that also copies ``examples/`` into ``ecs_engine/examples/data`` of the build directory."""

    def run(self) -> None:
        super().run()
        if not self.editable_mode:  # an editable install reads examples/ in place
            self._copy_examples()

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if not self.editable_mode:
            outputs += [str(Path(self.build_lib, PACKAGED_AS, name)) for name in _example_files()]
        return outputs

    def _copy_examples(self) -> None:
        target = Path(self.build_lib, PACKAGED_AS)
        if target.exists():  # a reused build directory must not keep examples that were removed
            self.execute(_remove_tree, (target,), f"removing stale {target}")
        for name in _example_files():
            self.mkpath(str((target / name).parent))
            self.copy_file(str(EXAMPLES / name), str(target / name))


def _example_files() -> list[Path]:
    """The examples' files, relative to ``examples/`` (caches left by running them excluded)."""
    if not (EXAMPLES / "workflows").is_dir():
        raise SystemExit(f"{EXAMPLES}/workflows is missing: the examples must be in the source tree (MANIFEST.in)")
    return sorted(
        path.relative_to(EXAMPLES)
        for path in EXAMPLES.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    )


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)


setup(cmdclass={"build_py": BuildPyWithExamples})
