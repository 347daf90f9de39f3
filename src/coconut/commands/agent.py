"""``coconut agent``: the node agent of the ``slurm`` resource manager, run as a Slurm job on its node.

The core submits it (``sbatch``) with every option set; by hand it is only useful to see its options.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer

from ecs_engine.errors import UsageError


def agent(
    core: str = typer.Option(
        ...,
        "--core",
        help="host:port the agent dials to reach the core's agent service (core.slurm.dial, default core.slurm.listen).",
    ),
    token_file: Path = typer.Option(..., "--token-file", help="File holding the agents' token (written by the core)."),
    node: str = typer.Option(..., "--node", help="The Slurm node this agent serves."),
    features: str = typer.Option("", "--features", help="The node's Features=, comma-separated."),
    work_dir: Path = typer.Option(Path("/tmp"), "--work-dir", help="Working directory of tasks without their own."),
    tls_ca: str = typer.Option("", "--tls-ca", help="CA file to check the core's TLS certificate with."),
    orphan_timeout: float = typer.Option(
        300.0,
        "--orphan-timeout",
        help="Seconds without a core after which the agent stops its tasks and ends (its job with it); 0: never.",
    ),
) -> None:
    """Serve the core's tasks on this node until SIGTERM (scancel), then stop them."""
    from ecs_backends.resources.slurm_agent import AgentOptions, run_agent

    try:
        token = token_file.read_text().strip()
    except OSError as exc:
        raise UsageError(f"--token-file {token_file}: {exc.strerror or exc}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_agent(
        AgentOptions(
            core=core,
            token=token,
            node=node,
            job_id=os.environ.get("SLURM_JOB_ID", ""),
            features=[f for f in features.split(",") if f],
            work_dir=work_dir,
            tls_ca=tls_ca,
            orphan_timeout=orphan_timeout,
        )
    )
