"""``dpl.*``: just-in-time generated DPL sub-workflows (``workflows/jit-<sha1>.yaml``).

A generated workflow is reused when the source already holds it; otherwise the generator the expansion was
given (the ``ecs_dpl_generate`` hook of the caller's plugin manager) runs the DPL command. Offline, with
neither, the error says which file is missing.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Mapping

from ecs_engine.errors import NotFoundError

from .sources import TemplateSource

#: generates a JIT workflow: ``generate(command=, name=, workdir=)`` -> its YAML text, or None when no plugin
#: can (the ``ecs_dpl_generate`` hook caller of a plugin manager)
DplGenerator = Callable[..., "str | None"]


def jit_name(command: str, stack: Mapping[str, str]) -> str:
    """``jit-<sha1>`` of the rendered command and the environment variables it runs with."""
    digest = hashlib.sha1((command + stack.get("jit_env_vars", "")).encode()).hexdigest()
    return f"jit-{digest}"


class Dpl:
    """The ``dpl`` object of templates; one per role stack."""

    def __init__(
        self,
        stack: Mapping[str, str],
        source: TemplateSource,
        render: Callable[[str], str],
        generate: DplGenerator | None = None,
    ):
        self._stack = stack
        self._source = source
        self._render = render
        self._generate = generate

    def Generate(self, command: str) -> str:
        command = str(command).strip()
        if not command or command == "none":
            raise ValueError("dpl.Generate: the DPL command is empty or 'none'")
        name = jit_name(command, self._stack)
        if self._source.exists("workflows", name):
            return name
        text = None
        if self._generate is not None:
            with tempfile.TemporaryDirectory(prefix="ecs-jit-") as workdir:
                text = self._generate(command=command, name=name, workdir=workdir)
        if text is None:
            raise ValueError(
                f"dpl: workflow {name} is not generated yet in {self._source.display()} and no DPL generator "
                "is installed (install a plugin implementing ecs_dpl_generate, or use a repository holding "
                f"workflows/{name}.yaml)"
            )
        self._source.jit_cache_write(name, text)
        return name

    def GenerateFromUri(self, uri: str) -> str:
        uri = str(uri).strip()
        if not uri or uri == "none":
            raise ValueError("dpl.GenerateFromUri: the workflow name is empty or 'none'")
        try:
            text = self._source.read("jit", uri).text
        except NotFoundError:
            raise ValueError(f"dpl.GenerateFromUri: no JIT command 'jit/{uri}' in {self._source.display()}") from None
        return self.Generate(self._render(text))

    def GenerateFromUriOrFallbackToTemplate(self, uri: str) -> str:
        uri = str(uri).strip()
        if uri and uri != "none" and not self._source.exists("jit", uri):
            return uri
        return self.GenerateFromUri(uri)
