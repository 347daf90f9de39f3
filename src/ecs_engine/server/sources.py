"""Where the core finds the workflow a request names: a local directory, a repository, or the built-in examples.

``NewEnvironment.workflowTemplate`` is ``[repo/workflows/]name[@revision]``. ``repo`` may be the identifier
of a repository added with ``coconut repo add`` (for a local one, its path: at its default revision without
``@``), another absolute directory (coconut's ``--repo DIR`` sends ``/abs/DIR/workflows/name``: its files as
they are), or ``examples`` (the built-in examples). Without a repository the default repository is used if
it has the workflow, else the built-in examples (only while no repository is added or the default one lacks it).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ecs_engine.errors import HandledError, NotFoundError
from ecs_engine.repos.listing import WorkflowTemplateInfo
from ecs_engine.template.sources import DirectorySource, TemplateRef, TemplateSource, closest_hint

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
        ref = TemplateRef.parse(text, "workflows")
        if ref.repo == EXAMPLES:
            return self._examples(), ref.name
        if ref.repo is None and ref.revision is None:
            source = self._default_with(ref.name)
            if source is not None:
                return source, ref.name
            if self.examples is not None and (self.examples / "workflows" / f"{ref.name}.yaml").is_file():
                return self._examples(), ref.name
            near = closest_hint(ref.name, self._default_names())
            raise NotFoundError(
                f"workflow '{ref.name}' is neither in the default repository nor in the built-in examples",
                hint=near or "name a repository (REPO/workflows/NAME) or a directory of the core's machine",
                cli_hint=near
                or "name a repository (REPO/workflows/NAME), pass --repo DIR, or see 'coconut template list'",
            )
        if ref.repo is not None and text.startswith("/") and not (self.repos and self.repos.is_added(ref.repo)):
            return self._directory(expression, Path("/", ref.repo), ref), ref.name
        if self.repos is None:
            raise NotFoundError(f"workflow '{expression}': no template repositories are configured")
        return self.repos.source(ref.repo, ref.revision), ref.name  # an added repository: its default revision

    @staticmethod
    def _directory(expression: str, root: Path, ref: TemplateRef) -> TemplateSource:
        """A directory on the core's machine that is not an added repository: its files as they are."""
        if not root.is_dir():
            raise NotFoundError(
                f"'{expression}': {root} does not exist and is not an added repository",
                cli_hint="see 'coconut repo list'",
            )
        if not (root / "workflows").is_dir():
            raise NotFoundError(f"'{expression}': {root} has no workflows/ folder and is not an added repository")
        if ref.revision not in (None, EXAMPLES_REVISION):
            raise NotFoundError(
                f"'{expression}': {root} is not an added repository, so it has no revision '{ref.revision}'",
                hint=f"its files as they are: no @ or @{EXAMPLES_REVISION}; revisions: add it as a repository first",
                cli_hint=f"its files as they are: no @ or @{EXAMPLES_REVISION}; revisions: 'coconut repo add {root}'"
                " first",
            )
        return DirectorySource(root)

    def _default_with(self, name: str) -> TemplateSource | None:
        """The default repository if it has the workflow; None only if no repository is added (a broken one
        raises: never a silent fall-back to the examples)."""
        if self.repos is None or not self.repos.registry.load():
            return None
        source = self.repos.source()
        return source if source.exists("workflows", name) else None

    def _default_names(self) -> list[str]:
        """The workflows a name without a repository may mean: the default repository's, then the examples'."""
        names = self.repos.source().names("workflows") if self.repos is not None and self.repos.registry.load() else []
        return names + (DirectorySource(self.examples).names("workflows") if self.examples is not None else [])

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
