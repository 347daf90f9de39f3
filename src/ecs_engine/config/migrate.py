"""Copying a whole configuration tree between stores (``coconut config migrate``), idempotently.

Only keys whose value differs are written, so a second run writes nothing. The run counter is never
moved backwards: if the target already handed out higher run numbers, its counter is kept. A
``file://`` target is written as a file in the AliECS layout (YAML, or JSON for ``.json``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ecs_engine.errors import ConfigurationError, NotFoundError

from .configuration import RUN_NUMBER_KEY, open_store
from .store import KeyValueStore
from .tree import serialize, unflatten

if TYPE_CHECKING:
    from ecs_engine.backend_registry import BackendRegistry


@dataclass
class MigrationReport:
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    #: (source value, target value) when the target's higher run counter was kept
    kept_run_number: tuple[str, str] | None = None


def _run_number(text: str | None) -> int:
    try:
        return int(text or "0")
    except ValueError:
        return -1


def copy_tree(source: KeyValueStore, target: KeyValueStore, *, dry_run: bool = False) -> MigrationReport:
    """Write every key of ``source`` that ``target`` lacks or holds with another value."""
    report = MigrationReport()
    wanted = source.get_tree("")
    present = target.get_tree("")
    changes = {}
    for key, value in wanted.items():
        if present.get(key) == value:
            report.unchanged += 1
        elif key == RUN_NUMBER_KEY and _run_number(present.get(key)) > _run_number(value):
            report.kept_run_number = (value, present[key])
        else:
            changes[key] = value
    report.written = sorted(changes)
    if changes and not dry_run:
        target.put_many(changes)
    return report


def export_file(source: KeyValueStore, path: Path, *, dry_run: bool = False) -> MigrationReport:
    """Write ``source`` as an AliECS configuration file; unchanged if the file already says the same."""
    if path.suffix.lower() not in (".yaml", ".yml", ".json"):
        raise ConfigurationError(f"configuration file {path}: expected a .yaml, .yml or .json file")
    if not path.parent.is_dir():  # as a sqlite:// store: a mistyped path makes no directories
        raise NotFoundError(
            f"configuration file {path}: the directory {path.parent} does not exist",
            hint="correct the URL, or create the directory first",
        )
    items = source.get_tree("")
    text = serialize({"o2": unflatten(items)}, "json" if path.suffix.lower() == ".json" else "yaml")
    report = MigrationReport()
    if path.exists() and path.read_text() == text:
        report.unchanged = len(items)
    else:
        report.written = sorted(items)
        if not dry_run:
            path.write_text(text)
    return report


def migrate(
    from_url: str | None,
    to_url: str | None,
    backends: BackendRegistry,
    *,
    data_dir: Path | None = None,
    dry_run: bool = False,
) -> MigrationReport:
    """Copy the tree of the store at ``from_url`` into the store (or file) at ``to_url`` (None: default store)."""
    if from_url == to_url:
        raise ConfigurationError(f"--from and --to are the same store: {from_url or 'the default store'}")
    export = Path(to_url[len("file://") :]) if to_url and to_url.startswith("file://") else None
    with (
        open_store(from_url, backends, data_dir=data_dir) as source,
        contextlib.nullcontext() if export else open_store(to_url, backends, data_dir=data_dir) as target,
    ):  # both URLs checked before the source's existence
        if not source.exists():
            raise NotFoundError(
                f"--from {source.url}: there is no configuration store there", hint="check the URL (a typo?)"
            )
        if target is None:
            assert export is not None  # no target store is opened only for an export
            return export_file(source, export, dry_run=dry_run)
        return copy_tree(source, target, dry_run=dry_run)
