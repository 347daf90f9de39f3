"""Where a template repository lives: what the user typed, how to reach it, and its identifier.

The identifier is what users see and type in workflow expressions (``host/path/name``, as AliECS),
so it never carries a protocol, a user name or a ``.git`` suffix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal
from urllib.parse import urlsplit

from ecs_engine.errors import UsageError

Protocol = Literal["https", "http", "ssh", "file", "directory"]

_SCP_LIKE = re.compile(r"^(?:(?P<user>[^@/:]+)@)?(?P<host>[^@/:]+):(?P<path>[^/].*|/.*)$")
EXPECTED = (
    "expected https://HOST/PATH/NAME, HOST/PATH/NAME (https), [USER@]HOST:PATH (ssh), "
    "ssh://HOST/PATH, file:///PATH or a local directory"
)


@dataclass(frozen=True)
class RepoLocation:
    """A parsed repository source."""

    spec: str  # as given by the user
    protocol: Protocol
    identifier: str  # host/path/name, or the absolute path for repositories on this machine
    url: str  # what git fetches from (the directory itself for plain directories)

    @property
    def is_git(self) -> bool:
        return self.protocol != "directory"

    def storage_path(self) -> PurePosixPath:
        """Relative place of this repository's clone under the manager's ``repos/`` directory."""
        ident = self.identifier.strip("/")
        return PurePosixPath("_local", ident) if self.identifier.startswith("/") else PurePosixPath(ident)


def _strip_git(path: str) -> str:
    path = path.strip("/")
    return path[: -len(".git")] if path.endswith(".git") else path


def _check_parts(spec: str, ident: str) -> str:
    parts = [p for p in ident.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise UsageError(f"repository '{spec}': the path is empty or contains '.'/'..'", hint=EXPECTED)
    return "/".join(parts)


def _is_local_git(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def parse_location(spec: str, cwd: Path | None = None) -> RepoLocation:
    """Classify ``spec`` as AliECS does: URL schemes, ``x.y/...`` (https), ``host:path`` (ssh), else local.

    A local path is a git repository if it holds one (then it is cloned like any other), else a
    plain directory used in place with revision ``local``.
    """
    text = spec.strip()
    if not text:
        raise UsageError("empty repository name", hint=EXPECTED)
    if "://" in text:
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme == "file":
            path = Path(parts.path).resolve()
            return RepoLocation(spec, "file", str(path), path.as_uri())
        if scheme in ("https", "http", "ssh"):
            if not parts.hostname:
                raise UsageError(f"repository '{spec}': no host name in the URL", hint=EXPECTED)
            host = parts.hostname + (f":{parts.port}" if parts.port and scheme != "ssh" else "")
            ident = _check_parts(spec, f"{host}/{_strip_git(parts.path)}")
            return RepoLocation(spec, scheme, ident, text)  # type: ignore[arg-type]
        raise UsageError(f"repository '{spec}': unsupported URL scheme '{parts.scheme}'", hint=EXPECTED)
    local = Path(text).expanduser()
    if not local.is_absolute():
        local = (cwd or Path.cwd()) / local
    starts_local = text.startswith(("/", "./", "../", "~")) or text in (".", "..")
    if starts_local or local.exists():
        if not local.is_dir():
            raise UsageError(f"repository '{spec}': {local} is not a directory", hint=EXPECTED)
        local = local.resolve()
        if _is_local_git(local):
            return RepoLocation(spec, "file", str(local), str(local))
        return RepoLocation(spec, "directory", str(local), str(local))
    scp = _SCP_LIKE.match(text)
    if scp:
        user = scp["user"] or "git"
        ident = _check_parts(spec, f"{scp['host']}/{_strip_git(scp['path'])}")
        return RepoLocation(spec, "ssh", ident, f"{user}@{scp['host']}:{scp['path']}")
    head = text.split("/", 1)[0]
    if "." in head and "/" in text:
        ident = _check_parts(spec, _strip_git(text))
        return RepoLocation(spec, "https", ident, f"https://{ident}")
    raise UsageError(f"repository '{spec}' is neither an existing directory nor a remote address", hint=EXPECTED)
