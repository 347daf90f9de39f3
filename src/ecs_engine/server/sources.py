"""Where the core finds the workflow a request names: a local directory, a repository, or the built-in examples.

``NewEnvironment.workflowTemplate`` is ``[repo/workflows/]name[@revision]``. ``repo`` may be an absolute
directory (coconut's ``--repo DIR`` sends ``/abs/DIR/workflows/name``), the identifier of a repository
added with ``coconut repo add``, or ``examples`` (the built-in examples). Without a repository the
default repository is used if it has the workflow, else the built-in examples.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ecs_engine.errors import HandledError, NotFoundError
from ecs_engine.repos.listing import WorkflowTemplateInfo
from ecs_engine.template.sources import DirectorySource, TemplateRef, TemplateSource

if TYPE_CHECKING:
    from ecs_engine.repos.manager import RepoManager

EXAMPLES = "examples"
#: the examples' one revision, as a plain directory's
EXAMPLES_REVISION = "local"


def installed_examples() -> Path | None:
    """The built-in examples' directory, None if this installation has none."""
    from ecs_engine.examples import examples_dir

    try:
        return examples_dir()
    except HandledError:
        return None


class TemplateSources:
    """Resolves ``workflowTemplate`` expressions against the repositories and the built-in examples."""

    def __init__(self, repos: RepoManager | None, examples: Path | None):
        self.repos = repos
        self.examples = examples

    def _examples(self) -> TemplateSource:
        if self.examples is None:
            raise NotFoundError("the built-in examples are not installed")
        return DirectorySource(self.examples)

    def resolve(self, expression: str) -> tuple[TemplateSource, str]:
        """The source holding the workflow and its name (raises NotFoundError/TemplateError naming what)."""
        text = expression.strip()
        if text.startswith("/"):  # a directory on the core's machine
            head, marker, tail = text.rpartition("/workflows/")
            root = Path(head)
            if not marker or not (root / "workflows").is_dir():
                raise NotFoundError(f"'{expression}': expected /DIRECTORY/workflows/NAME with a workflows/ folder")
            ref = TemplateRef.parse(tail, "workflows")
            if ref.revision in (None, EXAMPLES_REVISION):
                return DirectorySource(root), ref.name  # the files as they are
            if self.repos is None:
                raise NotFoundError(
                    f"'{expression}': no template repositories are configured to give revision {ref.revision}"
                )
            return self.repos.source(head, ref.revision), ref.name  # a repository added by its path, at that revision
        ref = TemplateRef.parse(text, "workflows")
        if ref.repo == EXAMPLES:
            return self._examples(), ref.name
        if ref.repo is None and ref.revision is None:
            source = self._default_with(ref.name)
            if source is not None:
                return source, ref.name
            if self.examples is not None and (self.examples / "workflows" / f"{ref.name}.yaml").is_file():
                return self._examples(), ref.name
            raise NotFoundError(
                f"workflow '{ref.name}' is neither in the default repository nor in the built-in examples",
                hint="name a repository (REPO/workflows/NAME), pass --repo DIR, or see 'coconut template list'",
            )
        if self.repos is None:
            raise NotFoundError(f"workflow '{expression}': no template repositories are configured")
        return self.repos.source(ref.repo, ref.revision), ref.name

    def _default_with(self, name: str) -> TemplateSource | None:
        if self.repos is None:
            return None
        try:
            source = self.repos.source()
        except NotFoundError:
            return None  # no repository added
        return source if source.exists("workflows", name) else None

    def example_templates(
        self, repo_pattern: str, revision_pattern: str, *, all_workflows: bool
    ) -> list[WorkflowTemplateInfo]:
        """The built-in examples as ``GetWorkflowTemplates`` entries (repository ``examples``, revision local)."""
        from ecs_engine.globs import compile_glob
        from ecs_engine.template.yamlload import inspect_workflow

        if self.examples is None or (repo_pattern and not compile_glob(repo_pattern).match(EXAMPLES)):
            return []
        if revision_pattern and not compile_glob(revision_pattern).match(EXAMPLES_REVISION):
            return []
        source = self._examples()
        out = []
        for name in source.names("workflows"):
            file = source.read("workflows", name)
            info = inspect_workflow(file.text, file.origin)
            if info.public or all_workflows:
                out.append(
                    WorkflowTemplateInfo(
                        repo=EXAMPLES,
                        revision=EXAMPLES_REVISION,
                        template=name,
                        public=bool(info.public),
                        description=info.description or "",
                        varspecs=dict(info.varspecs),
                    )
                )
        return out
