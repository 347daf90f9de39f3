"""Which repositories were added, kept in ``<data_dir>/repos/repositories.json``.

The core and offline ``coconut`` commands may share a data directory, so every change happens under an
exclusive file lock and the file is replaced atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from ecs_engine.errors import ConfigurationError

from .locations import Protocol

FILE_NAME = "repositories.json"


@dataclass(frozen=True)
class RepoEntry:
    """One added repository."""

    identifier: str
    protocol: Protocol
    url: str  # fetch URL, or the directory of a plain-directory repository
    spec: str  # as the user gave it


class Registry:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.path = self.root / FILE_NAME

    def load(self) -> dict[str, RepoEntry]:
        """Identifier -> entry; empty if nothing was ever added."""
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
            return {item["identifier"]: RepoEntry(**item) for item in raw}
        except FileNotFoundError:
            return {}
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigurationError(
                f"repository list {self.path} is damaged: {exc}",
                hint="fix or delete the file, then add the repositories again",
            ) from None

    def save(self, entries: dict[str, RepoEntry]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = [asdict(entries[k]) for k in sorted(entries)]
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".repositories.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
        os.replace(tmp, self.path)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Exclusive across processes (and, through a fresh descriptor per call, across threads)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
