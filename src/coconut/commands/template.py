"""``coconut template``: validate, plan and list workflow templates offline (no core needed)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ecs_engine.errors import ExitStatus, NotFoundError, TemplateError, UsageError

from ..aliases import command, command_group
from ..context import CliContext
from ..output import OUTPUT_OPTION, check_output
from ..stores import open_config, open_repos
from ..template_output import print_plan, print_templates, print_validation

if TYPE_CHECKING:
    from ecs_engine.template.sources import TemplateSource

app = command_group()

VARS_HELP = "Variables: k=v,k2=v2 or a JSON object (repeatable); role.path:key=v sets one role's variable."
CONFIG_HELP = "Configuration store URL (file://PATH.yaml, sqlite://PATH, etcd://HOST:PORT)."


def _repo(cli: CliContext, repo: str | None) -> Path:
    if repo:
        path = Path(repo)
        return path if path.is_absolute() else cli.cwd / path
    if (cli.cwd / "workflows").is_dir():
        return cli.cwd
    from ecs_engine.examples import examples_dir

    return examples_dir()


def _source(cli: CliContext, repo: str | None, workflow: str) -> tuple[TemplateSource, str]:
    """Where ``workflow`` comes from: ``--repo DIR``, else the managed repositories (``coconut repo add``),
    else the current directory or the built-in examples."""
    from ecs_engine.template.sources import DirectorySource

    if repo is None:
        with open_repos(cli) as manager:
            if manager.list().repos:
                return manager.resolve(workflow)
    return DirectorySource(_repo(cli, repo)), workflow


@command(app, "validate")
def validate(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(
        None,
        help="Workflow/task files, repository directories (default: .) or added repositories at a revision"
        " (REPO@REVISION; @REVISION: the default repository).",
    ),
    extra_vars: list[str] = typer.Option(None, "-e", "--extra-vars", help=VARS_HELP),
    config_endpoint: str = typer.Option(None, "--config-endpoint", "--config_endpoint", help=CONFIG_HELP),
    output: str = typer.Option(
        "text",
        "-o",
        "--output",
        help="text, json, yaml, github (annotations) or codeclimate (GitLab's Code Quality report); paths relative"
        " to the git work tree.",
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 also on any warning (an unknown key ignored, a default never used...)."
    ),
) -> int:
    """Load every workflow (with the given or sample variables, rendering the tasks it uses as plan does) and task
    template; exit 0 only if all are valid (with --strict: and none has a warning)."""
    from ecs_engine.plugins import plugin_manager
    from ecs_engine.template.validate import validate_paths
    from ecs_engine.uservars import parse_vars

    cli: CliContext = ctx.obj
    check_output(output, ("text", "json", "yaml", "github", "codeclimate"))
    user_vars = parse_vars(extra_vars or [])
    with open_config(cli, config_endpoint) as config, contextlib.ExitStack() as repos:
        targets: list[Path | TemplateSource] = []
        for given in paths or ["."]:
            path = Path(given) if Path(given).is_absolute() else cli.cwd / given
            if "@" in given and not path.exists():  # an added repository at a revision, read from git
                repo, _, revision = given.rpartition("@")
                targets.append(repos.enter_context(open_repos(cli)).source(repo or None, revision))
            else:
                targets.append(path)
        report = validate_paths(targets, plugins=plugin_manager(), config=config, user_vars=user_vars)
    print_validation(cli, report, output)
    if not report.ok:
        return ExitStatus.FAILED
    warnings = sum(p.severity == "warning" for r in report.results for p in r.problems)
    if strict and warnings:
        cli.error(f"coconut: error: --strict: {warnings} warning(s)")
        return ExitStatus.FAILED
    return ExitStatus.OK


@command(app, "plan")
def plan(
    ctx: typer.Context,
    workflow: str = typer.Option(..., "-w", "--workflow-template", help="Workflow name ([repo/workflows/]name[@rev])."),
    repo: str = typer.Option(
        None, "--repo", help="Template repository directory (default: . or the built-in examples)."
    ),
    extra_vars: list[str] = typer.Option(None, "-e", "--extra-vars", help=VARS_HELP),
    config_endpoint: str = typer.Option(None, "--config-endpoint", "--config_endpoint", help=CONFIG_HELP),
    output: str = typer.Option("text", "-o", "--output", help="text, json or yaml."),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Exit 1 if the plan has any warning (the template's own, calls that would fail, values the store"
        " could not give, unmatched channels).",
    ),
) -> int:
    """Show what an environment of the workflow would be: roles, tasks with commands and channels, hook timelines."""
    from ecs_engine.plugins import plugin_manager
    from ecs_engine.template.load import make_expander
    from ecs_engine.template.plan import build_plan
    from ecs_engine.uservars import parse_vars

    cli: CliContext = ctx.obj
    check_output(output)
    user_vars = parse_vars(extra_vars or [])
    source, name = _source(cli, repo, workflow)
    with open_config(cli, config_endpoint) as config:
        expander = make_expander(source, plugins=plugin_manager(), config=config, user_vars=user_vars, offline=True)
        try:
            data = build_plan(expander, expander.expand(name))  # a task template may read a site value too
        except TemplateError as exc:
            raise _with_site_hint(exc) from None
    print_plan(cli, data, output)
    if strict and data["warnings"]:
        cli.error(f"coconut: error: --strict: the plan has {len(data['warnings'])} warning(s)")
        return ExitStatus.FAILED
    return ExitStatus.OK


def _with_site_hint(exc: TemplateError) -> TemplateError:
    """An unknown name that the shipped site file defines is a site value the store lacks: say where it comes from."""
    import re

    from ecs_engine.examples import site_file

    unknown = re.search(r"unknown name '([^']+)'", exc.message)
    if unknown and exc.hint is None:
        import yaml

        defaults = yaml.safe_load(site_file().read_text())["o2"]["runtime"]["aliecs"]["defaults"]
        if unknown.group(1) in defaults:
            exc.hint = (
                f"'{unknown.group(1)}' is a site value the configuration store lacks: 'coconut config init' writes"
                f" the site file's ({site_file()}), or give --config-endpoint file://{site_file()}"
            )
    return exc


@command(app, "list", "ls", "l")
def list_templates(
    ctx: typer.Context,
    pattern: str = typer.Argument(None, metavar="[REPO[@REVISION]]", help="Repository and revision globs."),
    repository: str = typer.Option("", "-r", "--repository", help="Repository glob or index."),
    revision: str = typer.Option("", "-i", "--revision", help="Revision glob, branch, tag or hash."),
    all_branches: bool = typer.Option(False, "-b", "--all-branches", help="Every branch."),
    all_tags: bool = typer.Option(False, "-t", "--all-tags", help="Every tag."),
    all_workflows: bool = typer.Option(False, "-a", "--all-workflows", help="Also workflows not marked !public."),
    show_description: bool = typer.Option(False, "-d", "--show-description", help="Descriptions and variables."),
    output: str = OUTPUT_OPTION,
) -> None:
    """List workflow templates: repository -> [revision] -> templates (default: public ones, default revision)."""
    cli: CliContext = ctx.obj
    check_output(output)
    if pattern:
        if pattern.count("@") > 1 or pattern.startswith("@") or pattern.endswith("@"):
            raise UsageError(f"'{pattern}': expected [repo-pattern][@revision-pattern]")
        repository, _, revision = pattern.partition("@")
    if (all_branches or all_tags) and revision:
        cli.error("Ignoring --all-branches/--all-tags, as a revision has been specified")
        all_branches = all_tags = False
    from ecs_engine.server.sources import TemplateSources, installed_examples

    # the built-in examples are a repository too, as the core lists them (the default while none is added)
    examples = TemplateSources(None, installed_examples()).example_templates(
        repository, revision, all_workflows=all_workflows
    )
    problems: list[NotFoundError] = []  # repositories that cannot be listed: said, the others listed
    with open_repos(cli) as manager:
        try:
            infos = manager.templates(
                repository,
                revision,
                all_branches=all_branches,
                all_tags=all_tags,
                all_workflows=all_workflows,
                details=show_description,
                problems=problems,
            )
        except NotFoundError:
            if not examples:
                raise
            infos = []  # the patterns match only the examples
    failed = bool(problems) and not infos and not examples  # nothing could be listed: the last is the error
    for problem in problems[:-1] if failed else problems:
        cli.error(f"coconut: warning: {problem.message}")
    if failed:
        raise problems[-1]
    print_templates(cli, [*infos, *examples], output, details=show_description, all_workflows=all_workflows)
