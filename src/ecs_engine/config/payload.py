"""Payload templating: component payloads are pongo2 templates upstream; here jinja2 renders them.

The pongo2 spellings that jinja2 does not know are rewritten inside tags before compiling: filter
arguments after a colon (``x|default:"y"`` -> ``x|default("y")``), ``&&``, ``||`` and ``!``. pongo2's
``default`` (falsy -> default) and a few of its filters are provided. Nothing is HTML-escaped (payloads
are JSON/INI/YAML, not HTML). ``{% include "x" %}`` loads ``x`` from the directory of the including
payload (``comp/RT/role/``). Compiled templates are cached; each use checks that the stored text is
unchanged and recompiles if it changed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jinja2

from ecs_engine.errors import ConfigurationError, HandledError, NotFoundError

from .paths import COMPONENTS, ComponentQuery, no_payload
from .store import KeyValueStore

_TAG = re.compile(r"(\{\{.*?\}\}|\{%.*?%\})", re.DOTALL)
_STRING = r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\''
_TOKEN = re.compile(
    rf"(?P<str>{_STRING})"
    rf"|\|\s*(?P<filter>\w+)\s*:\s*(?P<arg>{_STRING}|[\w.+-]+)"
    r"|(?P<and>&&)|(?P<or>\|\|)|(?P<not>!(?!=))"
)


def pongo_to_jinja(text: str) -> str:
    """Rewrite the pongo2-only syntax inside ``{{ }}`` and ``{% %}`` tags; text outside tags is untouched."""

    def token(match: re.Match[str]) -> str:
        if match.group("str"):
            return match.group(0)
        if match.group("filter"):
            return f"|{match.group('filter')}({match.group('arg')})"
        if match.group("and"):
            return " and "
        if match.group("or"):
            return " or "
        return " not "

    return _TAG.sub(lambda tag: _TOKEN.sub(token, tag.group(0)), text)


def _default(value: Any, fallback: Any = "") -> Any:
    return value if value else fallback


def _default_if_none(value: Any, fallback: Any = "") -> Any:
    return fallback if value is None or isinstance(value, jinja2.Undefined) else value


def _yesno(value: Any, choices: str = "yes,no,maybe") -> str:
    options = choices.split(",")
    if value is None or isinstance(value, jinja2.Undefined):
        return options[2] if len(options) > 2 else options[1]
    return options[0] if value else options[1]


def _integer(value: Any) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return 0


FILTERS = {
    "default": _default,
    "default_if_none": _default_if_none,
    "cut": lambda value, what: str(value).replace(str(what), ""),
    "add": lambda value, other: value + other if type(value) is type(other) else f"{value}{other}",
    "capfirst": lambda value: str(value)[:1].upper() + str(value)[1:],
    "yesno": _yesno,
    "integer": _integer,
    "split": lambda value, sep: str(value).split(sep),
}


class _StoreLoader(jinja2.BaseLoader):
    """Templates are component payloads, named by their ``comp/RT/role/entry`` path."""

    def __init__(self, store: KeyValueStore):
        self.store = store

    def get_source(self, environment: jinja2.Environment, template: str):
        key = COMPONENTS + template
        text = self.store.get(key)
        if text is None:
            raise jinja2.TemplateNotFound(template)
        return pongo_to_jinja(text), None, lambda: self.store.get(key) == text


class _PayloadEnvironment(jinja2.Environment):
    def join_path(self, template: str, parent: str) -> str:
        """Includes are relative to the directory of the including payload."""
        base = parent.rsplit("/", 1)[0]
        return f"{base}/{template.lstrip('/')}"


class PayloadTemplates:
    """Compiled payload templates of one store; thread-safe (jinja2's cache is)."""

    def __init__(self, store: KeyValueStore):
        self.store = store
        self.env = _PayloadEnvironment(
            loader=_StoreLoader(store),
            undefined=jinja2.ChainableUndefined,
            autoescape=False,
            keep_trailing_newline=True,
            auto_reload=True,
            cache_size=1000,
        )
        self.env.filters.update(FILTERS)

    def render(self, query: ComponentQuery, bindings: Mapping[str, Any]) -> str:
        where = f"configuration payload {self.store.prefix}{query.key}"
        try:
            return self.env.get_template(query.path).render(bindings)
        except jinja2.TemplateNotFound as exc:
            if exc.name == query.path:
                raise no_payload(self.store.prefix, query) from None
            raise NotFoundError(
                f"{where}: included payload not found at {self.store.prefix}{COMPONENTS}{exc.name}"
            ) from None
        except jinja2.TemplateSyntaxError as exc:
            origin = f"{self.store.prefix}{COMPONENTS}{exc.name}" if exc.name else where
            raise ConfigurationError(f"{where}: template error in {origin} line {exc.lineno}: {exc.message}") from None
        except HandledError as exc:
            error = type(exc)(f"{where}: {exc.message}", hint=exc.hint)
            error.cli_hint = exc.cli_hint
            raise error from None
        except Exception as exc:
            raise ConfigurationError(f"{where}: rendering failed: {type(exc).__name__}: {exc}") from None
