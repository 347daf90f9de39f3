"""Default repository and default revisions, kept where AliECS keeps them: configuration-store runtime keys.

``runtime/aliecs/default_repo`` (identifier), ``runtime/aliecs/default_revision`` (global) and
``runtime/aliecs/default_revisions`` (JSON object: identifier -> revision), so an AliECS-shaped store and
this project agree on them.
"""

from __future__ import annotations

import json
from typing import Protocol

from ecs_engine.errors import ConfigurationError, NotFoundError

COMPONENT = "aliecs"
KEY_REPO = "default_repo"
KEY_REVISION = "default_revision"
KEY_REVISIONS = "default_revisions"
#: AliECS setting ``globalDefaultRevision``'s default; ``main`` is tried after it when a repo lacks it
FALLBACK_REVISIONS = ("master", "main")


class RuntimeStore(Protocol):
    """The part of ``ecs_engine.config.Configuration`` used here."""

    def runtime_get(self, component: str, key: str) -> str | None: ...

    def runtime_set(self, component: str, key: str, value: str) -> None: ...


class RepoDefaults:
    """Typed access to the three runtime keys; empty or missing keys mean 'not set'."""

    def __init__(self, store: RuntimeStore, global_revision: str = FALLBACK_REVISIONS[0]):
        self.store = store
        self.configured_global_revision = global_revision

    def _get(self, key: str) -> str:
        try:
            value = self.store.runtime_get(COMPONENT, key)
        except NotFoundError:
            return ""
        return (value or "").strip()

    def default_repo(self) -> str | None:
        return self._get(KEY_REPO) or None

    def set_default_repo(self, identifier: str | None) -> None:
        self.store.runtime_set(COMPONENT, KEY_REPO, identifier or "")

    def global_revision(self) -> str:
        """The runtime key if set, else the configured setting (``globalDefaultRevision``, default master)."""
        return self._get(KEY_REVISION) or self.configured_global_revision

    def set_global_revision(self, revision: str) -> None:
        self.store.runtime_set(COMPONENT, KEY_REVISION, revision)

    def repo_revisions(self) -> dict[str, str]:
        raw = self._get(KEY_REVISIONS)
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError as exc:
            raise ConfigurationError(
                f"runtime key {COMPONENT}/{KEY_REVISIONS} is not JSON: {exc}",
                hint='expected an object like {"github.com/org/repo": "master"}',
            ) from None
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigurationError(
                f"runtime key {COMPONENT}/{KEY_REVISIONS} must be a JSON object of repository -> revision"
            )
        return value

    def set_repo_revision(self, identifier: str, revision: str | None) -> None:
        revisions = self.repo_revisions()
        if revision is None:
            revisions.pop(identifier, None)
        else:
            revisions[identifier] = revision
        self.store.runtime_set(COMPONENT, KEY_REVISIONS, json.dumps(revisions, sort_keys=True))
