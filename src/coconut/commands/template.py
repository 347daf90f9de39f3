"""``coconut template``: validate and plan workflow templates offline (no core needed)."""

from __future__ import annotations

from pathlib import Path

import typer

from ecs_engine.errors import ExitStatus, UsageError

app = typer.Typer(no_args_is_help=True)

OUTPUTS = ("text", "json", "github")
VARS_HELP = "Variables: k=v,k2=v2 or a JSON object (repeatable); role.path:key=v sets one role's variable."
CONFIG_HELP = "Configuration store URL (file://PATH.yaml, sqlite://PATH, etcd://HOST:PORT)."


def _config(env, url: str | None):
    from ecs_engine.config import Configuration

    url = url or env.settings.get("config_endpoint") or None
    return Configuration.open(url, data_dir=env.data_dir)


def _repo(env, repo: str | None) -> Path:
    if repo:
        path = Path(repo)
        return path if path.is_absolute() else env.cwd / path
    if (env.cwd / "workflows").is_dir():
        return env.cwd
    from ecs_engine.examples import examples_dir

    return examples_dir()


def _source(env, repo: str | None, workflow: str):
    """Where ``workflow`` comes from: ``--repo DIR``, else the managed repositories (``coconut repo add``),
    else the current directory or the built-in examples."""
    from ecs_engine.template.sources import DirectorySource

    if repo is None:
        from .repo import open_manager

        with open_manager(env) as manager:
            if manager.list().repos:
                return manager.resolve(workflow)
    return DirectorySource(_repo(env, repo)), workflow


@app.command("validate")
def validate(
    ctx: typer.Context,
    paths: list[str] = typer.Argument(None, help="Workflow/task files or repository directories (default: .)."),
    extra_vars: list[str] = typer.Option(None, "-e", "--extra-vars", help=VARS_HELP),
    config_endpoint: str = typer.Option(None, "--config-endpoint", "--config_endpoint", help=CONFIG_HELP),
    output: str = typer.Option("text", "-o", "--output", help="text, json or github (annotations)."),
) -> int:
    """Load every workflow (with the given or sample variables) and task template; exit 0 only if all are valid."""
    from ecs_engine.template.validate import validate_paths

    from ..render import print_validation

    env = ctx.obj
    if output not in OUTPUTS:
        raise UsageError(f"--output: expected one of {', '.join(OUTPUTS)}, got '{output}'")
    from ecs_engine.uservars import parse_vars

    user_vars = parse_vars(extra_vars or [])
    targets = [Path(p) if Path(p).is_absolute() else env.cwd / p for p in (paths or ["."])]
    with _config(env, config_endpoint or env.options.get("config_endpoint")) as config:
        report = validate_paths(targets, config=config, user_vars=user_vars)
    print_validation(env, report, output)
    return ExitStatus.OK if report.ok else ExitStatus.FAILED


@app.command("plan")
def plan(
    ctx: typer.Context,
    workflow: str = typer.Option(..., "-w", "--workflow-template", help="Workflow name ([repo/workflows/]name[@rev])."),
    repo: str = typer.Option(
        None, "--repo", help="Template repository directory (default: . or the built-in examples)."
    ),
    extra_vars: list[str] = typer.Option(None, "-e", "--extra-vars", help=VARS_HELP),
    config_endpoint: str = typer.Option(None, "--config-endpoint", "--config_endpoint", help=CONFIG_HELP),
    output: str = typer.Option("text", "-o", "--output", help="text or json."),
) -> int:
    """Show what an environment of the workflow would be: roles, tasks with commands and channels, hook timelines."""
    from ecs_engine.template.load import make_expander
    from ecs_engine.template.plan import build_plan
    from ecs_engine.uservars import parse_vars

    from ..render import print_plan

    env = ctx.obj
    if output not in ("text", "json"):
        raise UsageError(f"--output: expected text or json, got '{output}'")
    user_vars = parse_vars(extra_vars or [])
    source, name = _source(env, repo, workflow)
    with _config(env, config_endpoint or env.options.get("config_endpoint")) as config:
        expander = make_expander(source, config=config, user_vars=user_vars)
        workflow_obj = expander.expand(name)
        data = build_plan(expander, workflow_obj)
    print_plan(env, data, output)
    return ExitStatus.OK


def list_templates(
    ctx: typer.Context,
    pattern: str = typer.Argument(None, metavar="[REPO[@REVISION]]", help="Repository and revision globs."),
    repository: str = typer.Option("", "-r", "--repository", help="Repository glob or index."),
    revision: str = typer.Option("", "-i", "--revision", help="Revision glob, branch, tag or hash."),
    all_branches: bool = typer.Option(False, "-b", "--all-branches", help="Every branch."),
    all_tags: bool = typer.Option(False, "-t", "--all-tags", help="Every tag."),
    all_workflows: bool = typer.Option(False, "-a", "--all-workflows", help="Also workflows not marked !public."),
    show_description: bool = typer.Option(False, "-d", "--show-description", help="Descriptions and variables."),
    output: str = typer.Option("text", "-o", "--output", help="text, json or yaml."),
) -> None:
    """List workflow templates: repository -> [revision] -> templates (default: public ones, default revision)."""
    from .repo import check_output, open_manager, print_templates

    env = ctx.obj
    check_output(output)
    if pattern:
        if pattern.count("@") > 1 or pattern.startswith("@") or pattern.endswith("@"):
            raise UsageError(f"'{pattern}': expected [repo-pattern][@revision-pattern]")
        repository, _, revision = pattern.partition("@")
    if (all_branches or all_tags) and revision:
        env.error("Ignoring --all-branches/--all-tags, as a revision has been specified")
        all_branches = all_tags = False
    with open_manager(env) as manager:
        infos = manager.templates(
            repository,
            revision,
            all_branches=all_branches,
            all_tags=all_tags,
            all_workflows=all_workflows,
            details=show_description,
        )
    print_templates(env, infos, output, details=show_description, all_workflows=all_workflows)


for _name in ("list", "ls", "l"):
    app.command(_name, hidden=_name != "list")(list_templates)
