"""One bare clone of a template repository: fetch, refs, revision resolution, reads from git objects.

Nothing is ever checked out: templates are read from blobs at a commit, so any number of revisions can
be read at once. Each thread gets its own libgit2 handle (libgit2 handles must not be shared by threads).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from ecs_engine.errors import ConfigurationError, NotFoundError, TemplateError, UnreachableError
from ecs_engine.template.sources import closest_hint

try:
    import pygit2
except ImportError:  # the 'git' extra is not installed: plain-directory repositories still work
    pygit2 = None  # type: ignore[assignment]  # None marks the missing extra; require_pygit2() checks it first

BRANCH_PREFIX = "refs/remotes/origin/"
TAG_PREFIX = "refs/tags/"
FETCH_REFSPECS = ("+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
_HEX = re.compile(r"^[0-9a-fA-F]{4,40}$")
TEXT_CACHE_SIZE = 512


class GitRepository:
    """A bare clone whose remote-tracking branches and tags are the revisions users name."""

    def __init__(self, path: Path, identifier: str):
        require_pygit2()
        self.path = Path(path)
        self.identifier = identifier
        self._local = threading.local()
        # decoded template texts by blob hash: delta-compressed blobs cost more to read than files
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._texts_lock = threading.Lock()
        if not (self.path / "HEAD").is_file():
            raise NotFoundError(f"repository {identifier}: no git clone at {self.path}")

    @classmethod
    def create(cls, path: Path, url: str, identifier: str) -> GitRepository:
        """An empty bare repository whose ``origin`` maps branches to remote-tracking refs and tags to tags."""
        require_pygit2()
        path.parent.mkdir(parents=True, exist_ok=True)
        repo = pygit2.init_repository(str(path), bare=True)
        repo.remotes.create("origin", url, FETCH_REFSPECS[0])
        repo.remotes.add_fetch("origin", FETCH_REFSPECS[1])
        repo.config["core.ignorecase"] = True
        return cls(path, identifier)

    @property
    def git(self) -> pygit2.Repository:
        """This thread's handle on the clone."""
        handle = getattr(self._local, "repo", None)
        if handle is None:
            handle = self._local.repo = pygit2.Repository(str(self.path))
        return handle

    def fetch(self, callbacks: pygit2.RemoteCallbacks | None = None) -> None:
        """Fetch every branch and tag from ``origin``, pruning the ones deleted there."""
        remote = self.git.remotes["origin"]
        try:
            remote.fetch(callbacks=callbacks, prune=pygit2.enums.FetchPrune.PRUNE)
        except (pygit2.GitError, OSError) as exc:
            raise UnreachableError(
                f"cannot fetch repository {self.identifier} from {remote.url}: {exc}",
                hint="check the address, the network and (for ssh) the key in setting repos_ssh_key",
            ) from None

    # -- refs ---------------------------------------------------------------------------------

    def _refs(self, prefix: str) -> Iterator[tuple[str, pygit2.Reference]]:
        git = self.git
        for name in git.references:
            if name.startswith(prefix):
                short = name[len(prefix) :]
                if prefix == BRANCH_PREFIX and short == "HEAD":
                    continue
                yield short, git.references[name]

    def branches(self) -> dict[str, str]:
        """Remote-tracking branch name -> commit hash."""
        return {name: str(ref.resolve().target) for name, ref in self._refs(BRANCH_PREFIX)}

    def tags(self) -> dict[str, str]:
        """Tag name -> hash of the commit it points to (annotated tags peeled); non-commit tags skipped."""
        out = {}
        for name, ref in self._refs(TAG_PREFIX):
            try:
                out[name] = str(ref.peel(pygit2.Commit).id)
            except (pygit2.InvalidSpecError, ValueError, KeyError):
                continue
        return out

    def revision_names(self) -> list[str]:
        return sorted({*self.branches(), *self.tags()})

    def resolve(self, revision: str) -> str:
        """The commit hash ``revision`` names: remote-tracking branch, tag, full or abbreviated hash."""
        git = self.git
        for prefix in (BRANCH_PREFIX, TAG_PREFIX):
            ref = git.references.get(prefix + revision)
            if ref is not None:
                try:
                    return str(ref.peel(pygit2.Commit).id)
                except (pygit2.InvalidSpecError, ValueError, KeyError):
                    raise NotFoundError(
                        f"repository {self.identifier}: '{revision}' does not point to a commit"
                    ) from None
        if _HEX.match(revision):
            try:
                obj = git.get(revision)
            except (pygit2.GitError, ValueError) as exc:  # AmbiguousError is a ValueError
                raise NotFoundError(
                    f"repository {self.identifier}: abbreviated hash '{revision}' is ambiguous",
                    hint="give more hex digits",
                ) from exc
            if obj is not None:
                try:
                    return str(obj.peel(pygit2.Commit).id)
                except (pygit2.InvalidSpecError, ValueError):
                    raise NotFoundError(f"repository {self.identifier}: '{revision}' is not a commit") from None
        names = self.revision_names()
        hint = closest_hint(revision, names)
        if hint is None:
            hint = (
                f"{len(names)} branches and tags, e.g. " + ", ".join(names[:5])
                if names
                else "the repository has no branches or tags (was it refreshed?)"
            )
        raise NotFoundError(f"repository {self.identifier} has no revision '{revision}'", hint=hint)

    def resolve_default(self, revision: str) -> str:
        """The commit of the repository's default revision; a pruned one (a tag deleted upstream) is named as such."""
        if not self.has_revision(revision):
            raise NotFoundError(
                f"repository {self.identifier}: its default revision '{revision}' does not exist",
                hint="choose another default revision for the repository",
                cli_hint="choose another with 'coconut repo default-revision INDEX REVISION'"
                " (see 'coconut repo list -r')",
            )
        return self.resolve(revision)

    def has_revision(self, revision: str) -> bool:
        try:
            self.resolve(revision)
        except NotFoundError:
            return False
        return True

    # -- contents -----------------------------------------------------------------------------

    def commit(self, commit: str) -> pygit2.Commit:
        obj = self.git.get(commit)
        if not isinstance(obj, pygit2.Commit):
            raise NotFoundError(f"repository {self.identifier}: commit {commit} is not in the clone")
        return obj

    def folder(self, commit: str, folder: str) -> list[tuple[str, str]]:
        """(file name, blob hash) of the regular files directly in ``folder`` at ``commit``, sorted."""
        try:
            tree = self.commit(commit).tree / folder
        except KeyError:
            return []
        if not isinstance(tree, pygit2.Tree):
            return []
        return sorted((e.name, str(e.id)) for e in tree if e.type_str == "blob" and e.name is not None)

    def blob(self, commit: str, path: str) -> tuple[str, str] | None:
        """(text, blob hash) of ``path`` at ``commit``, or None if there is no such file."""
        try:
            obj = self.commit(commit).tree / path
        except KeyError:
            return None
        if not isinstance(obj, pygit2.Blob):
            return None
        blob_id = str(obj.id)
        with self._texts_lock:
            text = self._texts.get(blob_id)
            if text is not None:
                self._texts.move_to_end(blob_id)
                return text, blob_id
        try:
            text = obj.data.decode("utf-8")
        except UnicodeDecodeError:
            raise TemplateError("not UTF-8 text", file=f"{self.identifier}@{commit[:8]}:{path}") from None
        with self._texts_lock:
            self._texts[blob_id] = text
            while len(self._texts) > TEXT_CACHE_SIZE:
                self._texts.popitem(last=False)
        return text, blob_id

    def export(self, commit: str, dest: Path) -> None:
        """Write the tree at ``commit`` into ``dest`` (a temporary working copy, e.g. for JIT generators)."""
        git = self.git
        stack = [(self.commit(commit).tree, dest)]
        while stack:
            tree, where = stack.pop()
            where.mkdir(parents=True, exist_ok=True)
            for entry in tree:
                target = where / str(entry.name)
                obj = git[entry.id]
                if isinstance(obj, pygit2.Tree):
                    stack.append((obj, target))
                elif isinstance(obj, pygit2.Blob):
                    if entry.filemode == pygit2.enums.FileMode.LINK:
                        target.symlink_to(obj.data.decode())
                    else:
                        target.write_bytes(obj.data)
                        if entry.filemode == pygit2.enums.FileMode.BLOB_EXECUTABLE:
                            target.chmod(0o755)


def require_pygit2() -> None:
    if pygit2 is None:
        raise ConfigurationError(
            "git template repositories need the pygit2 package, which is not installed",
            hint="pip install 'pygit2>=1.14' (the 'git' extra of coconut-ecs; plain directories work without it)",
        )


def remote_callbacks(ssh_key: Path | None, timeout: float) -> pygit2.RemoteCallbacks:
    """Credentials for fetches: ssh with the configured key pair, else the ssh agent; network timeouts."""
    require_pygit2()
    pygit2.settings.server_connect_timeout = int(timeout * 1000)
    pygit2.settings.server_timeout = int(timeout * 1000)

    class Credentials(pygit2.RemoteCallbacks):
        def credentials(self, url, username_from_url, allowed_types):
            user = username_from_url or "git"
            if allowed_types & pygit2.enums.CredentialType.SSH_KEY:
                if ssh_key is not None:
                    return pygit2.Keypair(user, f"{ssh_key}.pub", str(ssh_key), "")
                return pygit2.KeypairFromAgent(user)
            if allowed_types & pygit2.enums.CredentialType.USERNAME:
                return pygit2.Username(user)
            raise UnreachableError(f"{url} asks for credentials this installation cannot give (only ssh keys)")

    return Credentials()
