"""``GitSource``: a template source that is one git repository pinned to one commit.

Reads come straight from git objects, so two sources of the same repository at different commits never
interfere. Generated JIT workflows live outside the object store, in a per-commit cache directory that
reads consult first.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ecs_engine.errors import NotFoundError
from ecs_engine.template.sources import SUFFIX, Kind, TemplateFile, TemplateRef, TemplateSource, closest_hint

from .gitrepo import GitRepository

#: the origin of a file read from git, ``<repo>@<commit[:8]>:<path>``; group 1 is the path in the repository
GIT_ORIGIN = re.compile(r".+@[0-9a-f]{8}:(.+)")

#: how a source asks for another revision or repository: (reference, asking source) -> source
Resolver = Callable[[TemplateRef, "GitSource"], TemplateSource]


def same_repo(a: str, b: str) -> bool:
    """Identifiers compare without leading/trailing slashes (workflow expressions drop the leading one)."""
    return a.strip("/") == b.strip("/")


class GitSource(TemplateSource):
    """One repository at one resolved commit."""

    def __init__(
        self,
        repo: GitRepository,
        commit: str,
        *,
        label: str | None = None,
        jit_root: Path | None = None,
        resolver: Resolver | None = None,
    ):
        self.repo = repo
        self.repo_id = repo.identifier
        self.revision = commit
        #: the name the commit was asked for by ('master', 'v1.2', an abbreviated hash)
        self.label = label or commit
        self._jit_dir = jit_root / commit / "workflows" if jit_root is not None else None
        self._resolver = resolver

    def _where(self) -> str:
        at = self.label if self.label == self.revision else f"{self.label} ({self.revision[:8]})"
        return f"{self.repo_id} at {at}"

    def read(self, kind: Kind, name: str) -> TemplateFile:
        if kind == "workflows" and self._jit_dir is not None:
            cached = self._jit_dir / f"{name}.yaml"
            if cached.is_file():
                return TemplateFile(kind, name, cached.read_text(encoding="utf-8"), str(cached))
        path = f"{kind}/{name}{SUFFIX[kind]}"
        found = self.repo.blob(self.revision, path)
        if found is None:
            raise NotFoundError(
                f"{kind[:-1]} template '{name}' not found in {self._where()}", hint=closest_hint(name, self.names(kind))
            )
        return TemplateFile(kind, name, found[0], f"{self.repo_id}@{self.revision[:8]}:{path}")

    def names(self, kind: Kind) -> list[str]:
        return list(self.blob_ids(kind))

    def blob_ids(self, kind: Kind) -> dict[str, str]:
        """Template name -> blob hash, sorted by name (equal hashes mean equal text: callers cache per blob)."""
        suffix = SUFFIX[kind]
        out = {}
        for file_name, blob in self.repo.folder(self.revision, kind):
            if suffix and file_name.endswith(suffix):
                out[file_name[: -len(suffix)]] = blob
            elif not suffix and not file_name.startswith("."):
                out[file_name] = blob
        return out

    def _is_this_revision(self, revision: str) -> bool:
        rev = revision.lower()
        return revision == self.label or (len(rev) >= 4 and self.revision.startswith(rev))

    def resolve(self, ref: TemplateRef) -> TemplateSource:
        """This source for same-repository references without ``@`` (pinning); else ask the manager."""
        here = ref.repo is None or same_repo(ref.repo, self.repo_id)
        if here and (ref.revision is None or self._is_this_revision(ref.revision)):
            return self
        if self._resolver is not None:
            return self._resolver(ref, self)
        if not here:
            raise NotFoundError(f"{ref.kind[:-1]} '{ref.name}' comes from an unknown repository '{ref.repo}'")
        commit = self.repo.resolve(str(ref.revision))
        jit_root = self._jit_dir.parent.parent if self._jit_dir is not None else None
        return GitSource(self.repo, commit, label=ref.revision, jit_root=jit_root)

    def jit_cache_write(self, name: str, text: str) -> None:
        if self._jit_dir is None:
            return
        self._jit_dir.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._jit_dir, prefix=f".{name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, self._jit_dir / f"{name}.yaml")

    @contextlib.contextmanager
    def working_tree(self) -> Iterator[Path]:
        """A temporary directory holding the files of this commit (for JIT generators); removed afterwards."""
        with tempfile.TemporaryDirectory(prefix="ecs-checkout-") as tmp:
            self.repo.export(self.revision, Path(tmp))
            yield Path(tmp)

    def display(self) -> str:
        return f"{self.repo_id}@{self.label}" if self.label != self.revision else super().display()
