"""``RepoManager``: the template repositories of one installation and the revisions users name.

The core owns one; offline ``coconut`` commands open one over the same data directory. Layout under
``data_dir``: ``repos/repositories.json`` (what was added), ``repos/<host>/<path>/<name>`` (bare clones;
``repos/_local/...`` for repositories on this machine), ``jit/<same>/<commit>/workflows/`` (generated JIT
workflows). Default repository and revisions live in the configuration store (see ``defaults``).
"""

from __future__ import annotations

import builtins
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

from ecs_engine.errors import HandledError, NotFoundError, RefusedError, UsageError
from ecs_engine.globs import compile_glob, is_glob
from ecs_engine.template.sources import DirectorySource, Kind, TemplateRef, TemplateSource, closest, closest_hint

from .defaults import FALLBACK_REVISIONS, RepoDefaults, RuntimeStore
from .gitrepo import GitRepository, remote_callbacks
from .gitsource import GitSource, same_repo
from .listing import SummaryCache, WorkflowTemplateInfo, content_key, select_revisions
from .locations import RepoLocation, parse_location
from .registry import Registry, RepoEntry

LOCAL_REVISION = "local"


@dataclass(frozen=True)
class RepoStatus:
    """One row of ``ListRepos``: index = position in the alphabetically sorted list."""

    index: int
    name: str
    protocol: str
    url: str
    default: bool
    default_revision: str
    revisions: tuple[str, ...] = ()
    default_revision_missing: bool = False  # pruned upstream (a deleted tag) and gone after a refresh


@dataclass(frozen=True)
class RepoListing:
    repos: list[RepoStatus]
    global_default_revision: str


@dataclass(frozen=True)
class AddResult:
    repo: RepoStatus
    info: str  # how the default revision was chosen, for the user


class ManagedDirectorySource(DirectorySource):
    """A plain-directory repository that can still name other repositories in its includes."""

    def __init__(self, root: Path, identifier: str, manager: RepoManager):
        super().__init__(root)
        self.repo_id = identifier
        self._manager = manager

    def resolve(self, ref: TemplateRef) -> TemplateSource:
        if ref.repo is None or same_repo(ref.repo, self.repo_id):
            return super().resolve(TemplateRef(None, ref.kind, ref.name, ref.revision))
        return self._manager.source(ref.repo, ref.revision)


class RepoManager:
    """Add, remove, refresh and list repositories; turn ``[repo/workflows/]name[@rev]`` into a source."""

    def __init__(
        self,
        data_dir: Path,
        config: RuntimeStore,
        *,
        global_default_revision: str = FALLBACK_REVISIONS[0],
        ssh_key: Path | None = None,
        network_timeout: float = 60.0,
        builtin: str = "",
    ):
        self.data_dir = Path(data_dir)
        #: the name of a built-in repository listed after the added ones (ListRepos' examples): its index is
        #: refused naming it, not as an index that is not listed
        self.builtin = builtin
        self.repos_dir = self.data_dir / "repos"
        self.jit_dir = self.data_dir / "jit"
        self.defaults = RepoDefaults(config, global_default_revision)
        self.registry = Registry(self.repos_dir)
        self.ssh_key = ssh_key
        self.summaries = SummaryCache()
        self._git: dict[str, GitRepository] = {}
        self._git_lock = threading.Lock()
        self.network_timeout = network_timeout

    # -- the list ------------------------------------------------------------------------------

    def _entries(self) -> list[RepoEntry]:
        return [entry for _, entry in sorted(self.registry.load().items())]

    def _at(self, index: int) -> RepoEntry:
        entries = self._entries()
        if self.builtin and index == len(entries):
            added = f"the added ones are 0-{len(entries) - 1}" if entries else "none is added"
            raise RefusedError(
                f"repository {index} is the built-in {self.builtin}: it cannot be removed, refreshed or changed"
                f" ({added})",
                cli_hint=None if entries else "add one with 'coconut repo add'",
            )
        if not entries:
            raise NotFoundError(
                f"no repository with index {index}: there are no repositories",
                hint="add one first",
                cli_hint="add one with 'coconut repo add'",
            )
        if not 0 <= index < len(entries):
            raise NotFoundError(
                f"no repository with index {index} (indexes: 0-{len(entries) - 1})", cli_hint="see 'coconut repo list'"
            )
        return entries[index]

    def _find(self, name: str | None) -> RepoEntry:
        """The repository with this identifier, or the default one for None."""
        entries = self._entries()
        if name is None:
            if not entries:
                raise NotFoundError(
                    "no template repositories", hint="add one first", cli_hint="add one with 'coconut repo add'"
                )
            return self._default_entry(entries)
        for entry in entries:
            if same_repo(entry.identifier, name):
                return entry
        # a relative path ('src2.git') names the repositories it ends; else the closest, shown as they are typed
        near = [e.identifier for e in entries if e.identifier.endswith("/" + name.strip("/"))]
        if not near:
            typed = {e.identifier.strip("/"): e.identifier for e in entries}
            near = [typed[n] for n in closest(name.strip("/"), builtins.list(typed))]
        raise NotFoundError(
            f"workflow comes from an unknown repository '{name}'",
            hint=("closest: " + ", ".join(near)) if near else None,
            cli_hint=None if near else "see 'coconut repo list'",
        )

    def is_added(self, name: str) -> bool:
        """Whether ``name`` is an added repository's identifier: a path that is one is read as one, not as files."""
        return any(same_repo(identifier, name) for identifier in self.registry.load())

    def _default_entry(self, entries: list[RepoEntry]) -> RepoEntry:
        wanted = self.defaults.default_repo()
        for entry in entries:
            if wanted and same_repo(entry.identifier, wanted):
                return entry
        return entries[0]

    def _default_revision(self, entry: RepoEntry) -> str:
        if entry.protocol == "directory":
            return LOCAL_REVISION
        return self.defaults.repo_revisions().get(entry.identifier) or self.defaults.global_revision()

    # the method ``list`` shadows the builtin in this class body: annotations after it say ``builtins.list``
    def list(self, *, revisions: bool = False) -> RepoListing:
        """All repositories sorted by identifier, with their default revision (and revision names)."""
        entries = self._entries()
        default = self._default_entry(entries).identifier if entries else None
        rows = []
        for index, entry in enumerate(entries):
            names: tuple[str, ...] = ()
            revision = self._default_revision(entry)
            missing = False
            if entry.protocol != "directory":
                git = self.git(entry)
                names = tuple(git.revision_names()) if revisions else ()
                missing = not git.has_revision(revision)
            elif revisions:
                names = (LOCAL_REVISION,)
            rows.append(
                RepoStatus(
                    index,
                    entry.identifier,
                    entry.protocol,
                    entry.url,
                    entry.identifier == default,
                    revision,
                    names,
                    missing,
                )
            )
        return RepoListing(rows, self.defaults.global_revision())

    def git(self, entry: RepoEntry) -> GitRepository:
        """The clone of a git repository (opened once, shared)."""
        with self._git_lock:
            repo = self._git.get(entry.identifier)
            if repo is None:
                path = self.repos_dir / self._storage(entry)
                repo = self._git[entry.identifier] = GitRepository(path, entry.identifier)
            return repo

    @staticmethod
    def _storage(entry: RepoEntry) -> Path:
        location = RepoLocation(entry.spec, entry.protocol, entry.identifier, entry.url)
        return Path(location.storage_path())

    # -- changes -------------------------------------------------------------------------------

    def add(self, spec: str, default_revision: str | None = None, *, cwd: Path | None = None) -> AddResult:
        """Clone (or register a plain directory), fetch, choose the default revision, persist.

        Default revision: the given one, else the global default, else ``master``, else ``main``.
        The first repository becomes the default repository.
        """
        location = parse_location(spec, cwd)
        with self.registry.locked():
            entries = self.registry.load()
            for existing in entries.values():
                if same_repo(existing.identifier, location.identifier):
                    raise RefusedError(f"repository {location.identifier} is already present")
            entry = RepoEntry(location.identifier, location.protocol, location.url, spec)
            if location.is_git:
                revision, info = self._clone(location, entry, default_revision)
            else:
                if default_revision not in (None, LOCAL_REVISION):
                    raise UsageError(
                        f"{location.identifier} is a plain directory: its only revision is '{LOCAL_REVISION}', "
                        f"not '{default_revision}'"
                    )
                revision, info = LOCAL_REVISION, "plain directory, read in place (revision 'local')"
            entries[entry.identifier] = entry
            self.registry.save(entries)
            if location.is_git:
                self.defaults.set_repo_revision(entry.identifier, revision)
            current = self.defaults.default_repo()
            if not current or not any(same_repo(current, k) for k in entries):
                self.defaults.set_default_repo(entry.identifier)
        status = next(r for r in self.list().repos if r.name == entry.identifier)
        return AddResult(status, info)

    def _clone(self, location: RepoLocation, entry: RepoEntry, wanted: str | None) -> tuple[str, str]:
        path = self.repos_dir / self._storage(entry)
        shutil.rmtree(path, ignore_errors=True)  # a leftover of a failed or foreign add
        try:
            repo = GitRepository.create(path, location.url, location.identifier)
            repo.fetch(self._callbacks())
            revision, info = self._choose_default(repo, wanted)
        except BaseException:  # a failed add leaves no folder behind, not even the host's
            _remove_tree(self.repos_dir, self._storage(entry))
            raise
        with self._git_lock:
            self._git[entry.identifier] = repo
        return revision, info

    def _choose_default(self, repo: GitRepository, wanted: str | None) -> tuple[str, str]:
        if wanted:
            repo.resolve(wanted)  # raises with the closest names
            return wanted, f"default revision: {wanted}"
        tried: list[str] = []
        for candidate in (self.defaults.global_revision(), *FALLBACK_REVISIONS):
            if candidate in tried:
                continue
            if repo.has_revision(candidate):
                how = "global default" if not tried else f"fallback, {', '.join(tried)} not found"
                return candidate, f"default revision: {candidate} ({how})"
            tried.append(candidate)
        names = repo.revision_names()
        raise NotFoundError(
            f"cannot fall back to any default revision for {repo.identifier}: it has none of {', '.join(tried)}",
            hint=("give the repository a default revision, e.g. " + ", ".join(names[:5]))
            if names
            else "the repository has no branches or tags",
            cli_hint=("give one with -d/--default-revision, e.g. " + ", ".join(names[:5])) if names else None,
        )

    def _callbacks(self):
        return remote_callbacks(self.ssh_key, self.network_timeout)

    def remove(self, index: int) -> str | None:
        """Forget the repository at ``index`` and delete its clone and JIT outputs; return the new default."""
        with self.registry.locked():
            entry = self._at(index)
            entries = self.registry.load()
            entries.pop(entry.identifier, None)
            self.registry.save(entries)
            if entry.protocol != "directory":
                with self._git_lock:
                    self._git.pop(entry.identifier, None)
                for root in (self.repos_dir, self.jit_dir):
                    _remove_tree(root, self._storage(entry))
                self.defaults.set_repo_revision(entry.identifier, None)
            current = self.defaults.default_repo()
            if current and not same_repo(current, entry.identifier):
                return None
            new_default = sorted(entries)[0] if entries else None
            self.defaults.set_default_repo(new_default)
            return new_default

    def refresh(self, index: int | None = None) -> builtins.list[str]:
        """Fetch one repository (``index``) or all; drop JIT outputs of commits no ref reaches any more.

        Returns warnings for the user: the repositories whose default revision no longer exists (pruned).
        """
        failures = []
        warnings = []
        with self.registry.locked():
            entries = list(enumerate(self._entries())) if index is None else [(index, self._at(index))]
            for position, entry in entries:
                try:
                    self._refresh_one(entry, position)
                except HandledError as exc:
                    failures.append(exc)
                    continue
                if entry.protocol != "directory":
                    try:
                        self.git(entry).resolve_default(self._default_revision(entry))
                    except NotFoundError as exc:
                        warnings.append(exc.message)
        if len(failures) == 1:
            raise failures[0]
        if failures:
            raise HandledError(
                f"{len(failures)} of {len(entries)} repositories could not be refreshed:\n"
                + "\n".join(f"  {exc.message}" for exc in failures)
            )
        return warnings

    def _refresh_one(self, entry: RepoEntry, index: int) -> None:
        """Fetch one repository, the ``index``-th of the list (named in the error of a source gone)."""
        if entry.protocol in ("directory", "file") and not Path(entry.identifier).is_dir():
            raise NotFoundError(
                f"repository {entry.identifier}: the directory {entry.identifier} no longer exists",
                hint=f"put it back, or remove the repository (index {index})",
                cli_hint=f"put it back, or remove the repository with 'coconut repo remove {index}'",
            )
        if entry.protocol == "directory":
            return
        path = self.repos_dir / self._storage(entry)
        if not (path / "HEAD").is_file():  # the clone was deleted behind our back: clone again
            with self._git_lock:
                self._git.pop(entry.identifier, None)
            GitRepository.create(path, entry.url, entry.identifier)
        repo = self.git(entry)
        repo.fetch(self._callbacks())
        self._drop_stale_jit(entry, repo)

    def _drop_stale_jit(self, entry: RepoEntry, repo: GitRepository) -> None:
        root = self.jit_dir / self._storage(entry)
        if not root.is_dir():
            return
        cached = {d.name for d in root.iterdir() if d.is_dir()}
        tips = set(repo.branches().values()) | set(repo.tags().values())
        unreached = cached - tips
        if unreached and tips:
            walker = repo.git.walk(next(iter(tips)))
            for tip in tips:
                walker.push(tip)
            for commit in walker:
                unreached.discard(str(commit.id))
                if not unreached:
                    break
        for name in unreached:
            shutil.rmtree(root / name, ignore_errors=True)

    def set_default_repo(self, index: int) -> str:
        entry = self._at(index)
        self.defaults.set_default_repo(entry.identifier)
        return entry.identifier

    def set_global_default_revision(self, revision: str) -> None:
        if not revision.strip():
            raise UsageError("empty revision")
        self.defaults.set_global_revision(revision.strip())

    def set_repo_default_revision(self, index: int, revision: str) -> str:
        """Set the default revision of one repository; it must exist there (error names the valid ones)."""
        entry = self._at(index)
        if entry.protocol == "directory":
            if revision != LOCAL_REVISION:
                raise UsageError(f"{entry.identifier} is a plain directory: its only revision is '{LOCAL_REVISION}'")
            return entry.identifier
        self.git(entry).resolve(revision)
        with self.registry.locked():  # read-modify-write of the JSON key
            self.defaults.set_repo_revision(entry.identifier, revision)
        return entry.identifier

    # -- templates -----------------------------------------------------------------------------

    def source(self, repo: str | None = None, revision: str | None = None) -> TemplateSource:
        """``repo`` (default repository if None) at ``revision`` (its default revision if None)."""
        entry = self._find(repo)
        if entry.protocol == "directory":
            if revision not in (None, LOCAL_REVISION):
                raise NotFoundError(
                    f"repository {entry.identifier} has no revision '{revision}'",
                    hint=f"it is a plain directory: its only revision is '{LOCAL_REVISION}'",
                )
            return ManagedDirectorySource(Path(entry.url), entry.identifier, self)
        if revision is None:
            label = self._default_revision(entry)
            return self._git_source(entry, label, self.git(entry).resolve_default(label))
        return self._git_source(entry, revision)

    def _git_source(self, entry: RepoEntry, label: str, commit: str | None = None) -> GitSource:
        git = self.git(entry)
        commit = commit or git.resolve(label)
        return GitSource(git, commit, label=label, jit_root=self.jit_dir / self._storage(entry), resolver=self._resolve)

    def _resolve(self, ref: TemplateRef, asking: GitSource) -> TemplateSource:
        """Includes and task loads: same repository unless named; no ``@`` = the asking source's commit."""
        repo = asking.repo_id if ref.repo is None else ref.repo
        if same_repo(repo, asking.repo_id) and ref.revision is None:
            return asking
        return self.source(repo, ref.revision)

    def resolve(self, expr: str, kind: Kind = "workflows") -> tuple[TemplateSource, str]:
        """The source and template name for ``[repo/kind/]name[@rev]`` (the name is not checked here)."""
        ref = TemplateRef.parse(expr, kind)
        return self.source(ref.repo, ref.revision), ref.name

    def templates(
        self,
        repo_pattern: str = "",
        revision_pattern: str = "",
        *,
        all_branches: bool = False,
        all_tags: bool = False,
        all_workflows: bool = False,
        details: bool = False,
        problems: builtins.list[NotFoundError] | None = None,
    ) -> builtins.list[WorkflowTemplateInfo]:
        """``GetWorkflowTemplates``: workflows per matching repository and revision, sorted.

        ``repo_pattern`` is a glob over identifiers or an index ('' = all); non-public workflows are
        left out unless ``all_workflows``; ``details`` adds descriptions and VarSpecs. A repository that
        cannot be listed (its default revision pruned, its directory gone) raises, or with ``problems`` is
        reported there and the others are listed: one broken repository does not hide the healthy ones.
        """
        revision_pattern = revision_pattern.strip()
        entries = self._select_repos(repo_pattern.strip())
        out: list[WorkflowTemplateInfo] = []
        seen_revision = False
        for entry in entries:
            try:
                listed = self._listed_sources(entry, revision_pattern, all_branches, all_tags)
            except NotFoundError as exc:
                if problems is None:
                    raise
                problems.append(exc)
                continue
            for label, source in listed:
                seen_revision = True
                out.extend(self._describe(entry, label, source, all_workflows, details))
        if not seen_revision and revision_pattern and not is_glob(revision_pattern):
            if len(entries) == 1:  # that repository's own error: what it has instead
                self.source(entries[0].identifier, revision_pattern)
            names = sorted({n for e in entries if e.protocol != "directory" for n in self.git(e).revision_names()})
            raise NotFoundError(
                f"no repository has revision '{revision_pattern}'", hint=closest_hint(revision_pattern, names)
            )
        return out

    def _select_repos(self, pattern: str) -> builtins.list[RepoEntry]:
        entries = self._entries()
        if not pattern:
            return entries
        if pattern.isdigit():
            return [self._at(int(pattern))]
        regex = compile_glob(pattern.strip("/"))
        chosen = [e for e in entries if regex.match(e.identifier.strip("/"))]
        if not chosen:
            raise NotFoundError(
                f"no repository matches '{pattern}'",
                hint="repositories: " + (", ".join(e.identifier for e in entries) or "none"),
            )
        return chosen

    def _listed_sources(
        self, entry: RepoEntry, pattern: str, all_branches: bool, all_tags: bool
    ) -> builtins.list[tuple[str, TemplateSource]]:
        if entry.protocol == "directory":
            if all_branches or all_tags or (pattern and not compile_glob(pattern).match(LOCAL_REVISION)):
                return []
            return [(LOCAL_REVISION, self.source(entry.identifier, LOCAL_REVISION))]
        git = self.git(entry)
        labels = select_revisions(
            git, self._default_revision(entry), pattern, all_branches=all_branches, all_tags=all_tags
        )
        return [(label, self._git_source(entry, label)) for label in labels]

    def _describe(
        self, entry: RepoEntry, label: str, source: TemplateSource, all_workflows: bool, details: bool
    ) -> builtins.list[WorkflowTemplateInfo]:
        if isinstance(source, GitSource):
            keys = source.blob_ids("workflows")
        else:  # a plain directory: key by content
            keys = {name: content_key(source.read("workflows", name).text) for name in source.names("workflows")}
        out = []
        for name, key in keys.items():

            def read(name: str = name) -> tuple[str, str]:
                file = source.read("workflows", name)
                return file.text, file.origin

            public = self.summaries.public(key, read)
            if not public and not all_workflows:
                continue
            summary = self.summaries.details(key, read) if details else None
            out.append(
                WorkflowTemplateInfo(
                    entry.identifier,
                    label,
                    name,
                    public,
                    summary.description if summary else "",
                    summary.varspecs if summary else {},
                )
            )
        return out


def _remove_tree(root: Path, relative: Path) -> None:
    """Delete ``root/relative`` and the parent folders it leaves empty (up to ``root``)."""
    shutil.rmtree(root / relative, ignore_errors=True)
    for parent in (root / relative).parents:
        if parent == root or root not in parent.parents:
            break
        try:
            parent.rmdir()
        except OSError:  # not empty (another repository of the same host) or already gone
            break
