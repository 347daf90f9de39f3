"""Template sources: where workflow, task and JIT templates are read from.

A source is one repository at one revision: a plain directory (revision ``local``) or, with
``ecs_engine.repos``, a git repository pinned to a commit. The loader only talks to this interface.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ecs_engine.errors import NotFoundError, TemplateError

Kind = Literal["workflows", "tasks", "jit"]
KINDS: tuple[Kind, ...] = ("workflows", "tasks", "jit")
SUFFIX = {"workflows": ".yaml", "tasks": ".yaml", "jit": ""}


@dataclass(frozen=True)
class TemplateFile:
    """The text of one template and where it came from (for error messages)."""

    kind: Kind
    name: str
    text: str
    origin: str  # e.g. "/repo/workflows/x.yaml" or "github.com/o/r@1f2100:workflows/x.yaml"


@dataclass(frozen=True)
class TemplateRef:
    """A parsed template expression ``[repo/][kind/]name[@revision]``."""

    repo: str | None
    kind: Kind
    name: str
    revision: str | None

    @classmethod
    def parse(cls, expr: str, kind: Kind) -> TemplateRef:
        text = expr.strip()
        if not text:
            raise TemplateError(f"empty {kind[:-1]} name")
        revision = None
        if "@" in text:
            text, revision = text.rsplit("@", 1)
            if not revision:
                raise TemplateError(f"'{expr}': empty revision after '@'")
        repo = None
        marker = f"/{kind}/"
        if marker in f"/{text}":
            head, _, name = f"/{text}".rpartition(marker)
            repo = head.lstrip("/") or None
        elif "/" in text:
            raise TemplateError(
                f"'{expr}' is not a {kind[:-1]} reference",
                hint=f"use NAME, NAME@REVISION or REPO/{kind}/NAME@REVISION",
            )
        else:
            name = text
        if name.endswith(".yaml"):
            name = name[: -len(".yaml")]
        return cls(repo, kind, name, revision)


def closest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The few candidates that look most like ``name`` (a misspelt template, revision or repository)."""
    import difflib

    return difflib.get_close_matches(name, list(candidates), n=n, cutoff=0.5)


def closest_hint(name: str, candidates: Iterable[str]) -> str | None:
    """``closest: a, b``, the hint of every "no such template/revision" error; None if nothing looks like it."""
    near = closest(name, candidates)
    return "closest: " + ", ".join(near) if near else None


def decode_text(data: bytes, origin: str) -> str:
    """A template's bytes as text: UTF-8, else a TemplateError naming the file, line and byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TemplateError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} ({exc.reason})", file=origin, line=line
        ) from None


class TemplateSource(abc.ABC):
    """One repository at one revision."""

    #: repository identifier as shown to users (a path for directories, host/path/name for git)
    repo_id: str
    #: "local" for directories, else the resolved commit hash
    revision: str

    @abc.abstractmethod
    def read(self, kind: Kind, name: str) -> TemplateFile:
        """The template ``name`` of ``kind``; raise NotFoundError naming what was looked for."""

    @abc.abstractmethod
    def names(self, kind: Kind) -> list[str]:
        """Names of all templates of ``kind``, sorted."""

    def exists(self, kind: Kind, name: str) -> bool:
        try:
            self.read(kind, name)
        except NotFoundError:
            return False
        return True

    def resolve(self, ref: TemplateRef) -> TemplateSource:
        """The source that holds ``ref``: this one unless another repo or revision is named.

        Includes and task loads without ``@`` stay on this revision (pinning).
        """
        if ref.repo not in (None, self.repo_id):
            raise NotFoundError(f"{ref.kind[:-1]} '{ref.name}' comes from an unknown repository '{ref.repo}'")
        if ref.revision not in (None, self.revision):
            raise NotFoundError(
                f"repository {self.repo_id} has no revision '{ref.revision}' (it is a plain directory: 'local')"
            )
        return self

    def jit_cache_write(self, name: str, text: str) -> None:
        """Store a generated JIT workflow so later loads reuse it (default: not cached)."""

    def display(self) -> str:
        return self.repo_id if self.revision == "local" else f"{self.repo_id}@{self.revision[:8]}"


class DirectorySource(TemplateSource):
    """A plain directory with ``workflows/``, ``tasks/`` and ``jit/``; revision ``local``."""

    def __init__(self, root: str | Path):
        self.root = Path(root).resolve()
        self.repo_id = str(self.root)
        self.revision = "local"
        if not self.root.is_dir():
            raise NotFoundError(f"template repository {self.root} is not a directory")

    def _path(self, kind: Kind, name: str) -> Path:
        return self.root / kind / f"{name}{SUFFIX[kind]}"

    def read(self, kind: Kind, name: str) -> TemplateFile:
        path = self._path(kind, name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(
                f"{kind[:-1]} template '{name}' not found (looked for {path})",
                hint=closest_hint(name, self.names(kind)),
            ) from None
        return TemplateFile(kind, name, decode_text(data, str(path)), str(path))

    def names(self, kind: Kind) -> list[str]:
        folder = self.root / kind
        if not folder.is_dir():
            return []
        suffix = SUFFIX[kind]
        out = []
        for p in folder.iterdir():
            if p.is_file() and (p.name.endswith(suffix) if suffix else not p.name.startswith(".")):
                out.append(p.name[: -len(suffix)] if suffix else p.name)
        return sorted(out)

    def jit_cache_write(self, name: str, text: str) -> None:
        path = self._path("workflows", name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


class ScratchSource(TemplateSource):
    """``inner`` with the JIT workflows generated meanwhile kept in memory, not written: offline expansions
    (validate, plan) leave the repository as they found it."""

    def __init__(self, inner: TemplateSource):
        self.inner = inner
        self.repo_id = inner.repo_id
        self.revision = inner.revision
        self._generated: dict[str, str] = {}

    def read(self, kind: Kind, name: str) -> TemplateFile:
        text = self._generated.get(name) if kind == "workflows" else None
        if text is None:
            return self.inner.read(kind, name)
        return TemplateFile(kind, name, text, f"{self.inner.display()}:workflows/{name}.yaml (generated, not saved)")

    def names(self, kind: Kind) -> list[str]:
        return self.inner.names(kind)

    def resolve(self, ref: TemplateRef) -> TemplateSource:
        found = self.inner.resolve(ref)
        return self if found is self.inner else found

    def jit_cache_write(self, name: str, text: str) -> None:
        self._generated[name] = text

    def display(self) -> str:
        return self.inner.display()
