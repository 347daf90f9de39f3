"""Template listing: which revisions a pattern selects, and what each workflow says about itself.

Listing 300 branches must not parse 300 copies of an 80 KB workflow, so what a workflow says (public
marker, description, VarSpecs) is cached per content hash: equal blobs are inspected once.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ecs_engine.errors import HandledError, UsageError
from ecs_engine.globs import compile_glob, is_glob

from .gitrepo import GitRepository

if TYPE_CHECKING:
    from ecs_engine.template.yamlload import VarSpec

_FULL_HASH = re.compile(r"^[0-9a-fA-F]{40}$")
# The root mapping's `name:` key sits at column 0; block scalars never do, so this finds it without parsing.
_ROOT_NAME = re.compile(r"^name[ \t]*:[ \t]*(!public\b)?", re.MULTILINE)


@dataclass(frozen=True)
class WorkflowTemplateInfo:
    """One workflow template at one revision, as ``GetWorkflowTemplates`` reports it."""

    repo: str
    revision: str  # the branch, tag or hash it was listed under ('local' for directories)
    template: str
    public: bool
    description: str = ""
    varspecs: dict[str, VarSpec] = field(default_factory=dict)  # with details only


@dataclass(frozen=True)
class WorkflowSummary:
    public: bool
    description: str = ""
    varspecs: dict[str, VarSpec] = field(default_factory=dict)


def content_key(text: str) -> str:
    """The git blob hash of ``text``: the same key a git source reports without reading the blob."""
    data = text.encode("utf-8")
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _inspect(text: str, origin: str) -> WorkflowSummary:
    from ecs_engine.template.yamlload import inspect_workflow

    try:
        info = inspect_workflow(text, origin)
    except HandledError as exc:
        return WorkflowSummary(False, f"(cannot be read: {exc.message})")
    return WorkflowSummary(bool(info.public), info.description or "", dict(info.varspecs))


class SummaryCache:
    """Content hash -> summary, bounded, shared by threads."""

    def __init__(self, size: int = 4096):
        self.size = size
        self._public: OrderedDict[str, bool] = OrderedDict()
        self._details: OrderedDict[str, WorkflowSummary] = OrderedDict()
        self._lock = threading.Lock()

    def _get(self, table: OrderedDict, key: str) -> Any:
        with self._lock:
            if key in table:
                table.move_to_end(key)
                return table[key]
        return None

    def _put(self, table: OrderedDict, key: str, value: Any) -> None:
        with self._lock:
            table[key] = value
            while len(table) > self.size:
                table.popitem(last=False)

    def public(self, key: str, read: Callable[[], tuple[str, str]]) -> bool:
        """Whether the workflow is public; ``read`` gives (text, origin) only when the cache misses."""
        known = self._get(self._public, key)
        if known is not None:
            return known
        text, _ = read()
        match = _ROOT_NAME.search(text)
        value = bool(match.group(1)) if match else self.details(key, read).public
        self._put(self._public, key, value)
        return value

    def details(self, key: str, read: Callable[[], tuple[str, str]]) -> WorkflowSummary:
        known = self._get(self._details, key)
        if known is None:
            known = _inspect(*read())
            self._put(self._details, key, known)
        return known


def select_revisions(
    repo: GitRepository,
    default_revision: str,
    pattern: str,
    *,
    all_branches: bool = False,
    all_tags: bool = False,
) -> list[str]:
    """The revision names of ``repo`` a listing request selects, sorted.

    ``all_branches``/``all_tags`` select every remote-tracking branch/tag; an empty pattern selects the
    repository's default revision; a full hash selects itself; a glob matches branch and tag names; a plain
    name (or abbreviated hash) selects itself if the repository has it.
    """
    if (all_branches or all_tags) and pattern:
        raise UsageError(
            f"revision pattern '{pattern}' cannot be combined with all branches/all tags",
            hint="give either a revision pattern or all branches/all tags",
            cli_hint="give either a revision pattern or --all-branches/--all-tags",
        )
    if all_branches or all_tags:
        names = set(repo.branches()) if all_branches else set()
        if all_tags:
            names |= set(repo.tags())
        return sorted(names)
    if not pattern:
        repo.resolve_default(default_revision)
        return [default_revision]
    if _FULL_HASH.match(pattern):
        return [pattern] if repo.has_revision(pattern) else []
    if is_glob(pattern):
        regex = compile_glob(pattern)
        return [name for name in repo.revision_names() if regex.match(name)]
    return [pattern] if repo.has_revision(pattern) else []
