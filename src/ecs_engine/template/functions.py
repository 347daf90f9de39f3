"""The functions templates call: ``strings.*``, ``json.*``, ``uid.*``, ``util.*``, ``Parent()``/``Up(n)``/``This()``.

Method names are the AliECS ones, so member access in expressions finds them as plain attributes.
Like AliECS, helpers that look data up report failures as ``{"error":"..."}`` strings.
"""

from __future__ import annotations

import json as _json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ecs_engine.ids import new_id

from .expr import go_json

FALSY = frozenset(("", "false", "no", "n", "0", "off", "none"))
TRUTHY = frozenset(("true", "yes", "y", "1", "on", "ok"))


def error_string(message: str) -> str:
    return go_json({"error": message})


class Strings:
    """``strings.*``"""

    @staticmethod
    def Atoi(s: str) -> Any:
        text = str(s).strip()
        try:
            value = int(text)
        except ValueError:  # also more than 4300 digits
            return error_string(f'strconv.Atoi: parsing "{s}": invalid syntax')
        if not -(1 << 63) <= value < 1 << 63:
            return error_string(f'strconv.Atoi: parsing "{s}": value out of range')
        return value

    @staticmethod
    def Itoa(i: Any) -> str:
        return str(int(i))

    @staticmethod
    def TrimQuotes(s: str) -> str:
        s = str(s)
        if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'`":
            return s[1:-1]
        return s

    @staticmethod
    def TrimSpace(s: str) -> str:
        return str(s).strip()

    @staticmethod
    def ToUpper(s: str) -> str:
        return str(s).upper()

    @staticmethod
    def ToLower(s: str) -> str:
        return str(s).lower()

    @staticmethod
    def IsTruthy(s: str) -> bool:
        return str(s).strip().lower() in TRUTHY

    @staticmethod
    def IsFalsy(s: str) -> bool:
        return str(s).strip().lower() in FALSY


class Json:
    """``json.*``"""

    @staticmethod
    def Unmarshal(s: str) -> Any:
        try:
            return _json.loads(s)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"json.Unmarshal: {s!r} is not valid JSON ({exc})") from None

    Deserialize = Unmarshal

    @staticmethod
    def Marshal(value: Any) -> str:
        return go_json(value)

    Serialize = Marshal

    @staticmethod
    def Sort(value: Any) -> Any:
        if isinstance(value, list):
            return sorted(value, key=lambda v: (str(type(v)), v))
        return value


class Uid:
    """``uid.New()``"""

    @staticmethod
    def New() -> str:
        return new_id()


class Util:
    """``util.*``: the helpers that need the variable stack.

    ``offline`` (validate, plan): helpers with side effects do everything but the effect.
    """

    def __init__(self, stack: Mapping[str, str], *, offline: bool = False):
        self._stack = stack
        self._offline = offline

    def _present(self, name: str) -> str | None:
        value = self._stack.get(name)
        if value is None or not str(value).strip() or str(value).strip() == "none":
            return None
        return str(value)

    def PrefixedOverride(self, varname: str, prefix: str) -> str:
        """``<prefix>_<var>`` if set (not blank, not "none"), else ``<var>`` under the same rule, else ""."""
        if prefix:
            found = self._present(f"{prefix}_{varname}")
            if found is not None:
                return found
        found = self._present(varname)
        return found if found is not None else ""

    @staticmethod
    def SuffixInRange(value: str, prefix: str, low: str, high: str) -> str:
        value = str(value)
        if not value.startswith(prefix):
            return "false"
        try:
            number, lo, hi = int(value[len(prefix) :]), int(low), int(high)
        except ValueError:
            return "false"
        return "true" if lo <= number <= hi else "false"

    def Dump(self, text: str, file: str) -> str:
        if not self._offline:
            Path(file).write_text(str(text), encoding="utf-8")
        return str(text)

    @staticmethod
    def Nullable(value: Any) -> Any:
        return None if value in ("", None) else value


class RoleRef:
    """What ``Parent()``, ``Up(n)`` and ``This()`` return: ``.Name`` and ``.Path`` of a role."""

    __slots__ = ("Name", "Path")

    def __init__(self, name: str, path: str):
        self.Name = name
        self.Path = path

    def __repr__(self) -> str:
        return f"RoleRef({self.Path})"


class Odc:
    """The ``odc`` object present even without the ODC plugin (AliECS keeps this stub)."""

    @staticmethod
    def GenerateEPNTopologyFullname() -> str:
        return ""


STRINGS, JSON, UID, ODC = Strings(), Json(), Uid(), Odc()


def static_objects() -> dict[str, Any]:
    """Objects that do not depend on the role or stack, including the deprecated top-level aliases."""
    return {
        "strings": STRINGS,
        "json": JSON,
        "uid": UID,
        "odc": ODC,
        "FromJson": Json.Unmarshal,
        "ToJson": Json.Marshal,
        "NewID": Uid.New,
        "IsTruthy": Strings.IsTruthy,
        "IsFalsy": Strings.IsFalsy,
        "ToUpper": Strings.ToUpper,
        "ToLower": Strings.ToLower,
        "TrimSpace": Strings.TrimSpace,
        "TrimQuotes": Strings.TrimQuotes,
        "Atoi": Strings.Atoi,
        "Itoa": Strings.Itoa,
        "SuffixInRange": Util.SuffixInRange,
    }


def role_functions(ancestors: list[tuple[str, str]], this: tuple[str, str] | None) -> dict[str, Callable[..., RoleRef]]:
    """``Parent()``, ``Up(n)`` and (from stage 4) ``This()`` for a role.

    ``ancestors`` is [(name, path)] from the parent upwards.
    """

    def up(n: int = 1) -> RoleRef:
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"Up({n!r}): expected an integer >= 1")
        if n > len(ancestors):
            raise ValueError(f"Up({n}): the role has only {len(ancestors)} ancestors")
        return RoleRef(*ancestors[n - 1])

    def parent() -> RoleRef:
        return up(1)

    funcs: dict[str, Callable[..., RoleRef]] = {"Parent": parent, "Up": up}
    if this is not None:
        funcs["This"] = lambda: RoleRef(*this)
    return funcs
