"""The expressions inside ``{{ }}`` of AliECS templates, compatible with expr-lang (Go).

Every field of every role is rendered, often many times, so each distinct source is parsed once
(lark LALR, grammar in ``expr.lark``), compiled into a tree of Python closures and cached; evaluating
only runs the closures. Semantics follow expr-lang with a Go map as env:

- strict names: every free identifier must be a key of the env (or a builtin), checked before
  evaluating, so a typo fails even in a branch that is never taken;
- strict types: ``&&``, ``||``, ``!`` and ``?:`` want booleans, ``+`` adds numbers or joins strings,
  comparisons never convert ``'1'`` to ``1``. Template variables are strings, so this matters.

Deliberate differences: division by zero is an error (Go gives ``+Inf``), so is an integer result outside
64 bits (Go wraps around); expressions nest at most MAX_DEPTH levels.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import operator
from collections.abc import Callable, Mapping
from typing import Any

from ecs_engine.errors import HandledError, TemplateError

Env = Mapping[str, Any]
Evaluator = Callable[[Env], Any]

_CACHE_SIZE = 1 << 16
_INT64 = 1 << 63
#: how deep an expression may nest (brackets, operator chains); compiling and evaluating recurse per level
MAX_DEPTH = 100


class ExpressionError(TemplateError):
    """An expression that does not parse, names an unknown variable, or fails while evaluated.

    ``expression`` is the text shown to the user and ``position`` the 0-based offset of the failing
    token in it, so ``render()`` can point a caret at it.
    """


def _builtin_len(value: Any) -> int:
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise ExpressionError(f"needs a string, list or map, got {_describe(value)}")


BUILTINS: Mapping[str, Any] = {"len": _builtin_len}


class Expression:
    """One compiled expression; ``names`` are the env keys it needs (builtins and members excluded)."""

    __slots__ = ("_checks", "_evaluate", "names", "source")

    def __init__(self, source: str, evaluate: Evaluator, name_positions: Mapping[str, int]):
        self.source = source
        self.names = frozenset(name_positions)
        self._checks = tuple(sorted(name_positions.items(), key=lambda item: item[1]))
        self._evaluate = evaluate

    def evaluate(self, env: Env) -> Any:
        self.check_names(env)
        try:
            return self._evaluate(env)
        except ExpressionError as error:
            if error.expression is None:
                error.expression = self.source
            raise
        except RecursionError:  # a value nested too deeply to compare (e.g. from json.Unmarshal)
            raise ExpressionError("a value nests too deeply", expression=self.source, position=0) from None

    def check_names(self, env: Env) -> None:
        """Raise the error evaluating over ``env`` would give for the first name it lacks, without evaluating."""
        for name, position in self._checks:
            if name not in env:
                raise self._unknown_name(name, position, env)

    def _unknown_name(self, name: str, position: int, env: Env) -> ExpressionError:
        close = difflib.get_close_matches(name, [*env.keys(), *BUILTINS], n=1)
        return ExpressionError(
            f"unknown name '{name}'",
            expression=self.source,
            position=position,
            hint=f"did you mean '{close[0]}'?" if close else None,
        )

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"


@functools.lru_cache(maxsize=_CACHE_SIZE)
def compile_expression(source: str) -> Expression:
    """Parse and compile ``source`` once; raises ExpressionError with the failing position."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedToken

    try:
        tree = _parser().parse(source)
    except UnexpectedCharacters as error:
        raise _bad_character(source, error.pos_in_stream or 0) from None
    except UnexpectedToken as error:  # LALR reports a premature end as the token $END
        raise _unexpected_token(source, error) from None
    compiler = _Compiler(source)
    try:
        node = compiler.build(tree)
    except ExpressionError as error:
        error.expression = source
        raise
    return Expression(source, node.evaluate, compiler.names)


def has_expressions(text: str) -> bool:
    """Whether ``text`` has a ``{{`` and so needs rendering."""
    return "{{" in text


def render(text: str, env: Env) -> str:
    """Replace each ``{{ expr }}`` of ``text`` by its value as text (fasttemplate rules, one pass)."""
    if "{{" not in text:
        return text
    out = []
    for piece in _split(text):
        if isinstance(piece, str):
            out.append(piece)
            continue
        expression, offset = piece
        try:
            out.append(_as_text(expression.evaluate(env)))
        except ExpressionError as error:
            error.expression = text
            error.position = offset + (error.position or 0)
            raise
    return "".join(out)


def names_in(text: str) -> frozenset[str]:
    """The variables and objects the ``{{ }}`` of ``text`` read."""
    return frozenset().union(*(piece[0].names for piece in _split(text) if isinstance(piece, tuple)))


def check_syntax(text: str) -> None:
    """Compile every ``{{ }}`` of ``text`` without evaluating: raises ExpressionError at the first bad one."""
    if "{{" in text:
        _split(text)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _split(text: str) -> tuple[str | tuple[Expression, int], ...]:
    """Cut ``text`` at ``{{`` and the first ``}}`` after it; no nesting and no escapes, as fasttemplate."""
    pieces: list[str | tuple[Expression, int]] = []
    start = 0
    while (opening := text.find("{{", start)) >= 0:
        closing = text.find("}}", opening + 2)
        if closing < 0:
            raise ExpressionError("'{{' is never closed by '}}'", expression=text, position=opening)
        if opening > start:
            pieces.append(text[start:opening])
        span = text[opening + 2 : closing]
        source = span.strip()
        if not source:
            raise ExpressionError("empty expression between '{{' and '}}'", expression=text, position=opening)
        offset = opening + 2 + (len(span) - len(span.lstrip()))
        try:
            pieces.append((compile_expression(source), offset))
        except ExpressionError as error:  # an error at the end of the expression points at its '}}'
            error.expression = text
            error.position = closing if error.position == len(source) else offset + (error.position or 0)
            raise
        start = closing + 2
    if start < len(text):
        pieces.append(text[start:])
    return tuple(pieces)


# --- rendering values as Go's fmt %v and encoding/json would -------------------------------------


def _as_text(value: Any) -> str:
    try:
        return to_text(value)
    except RecursionError:
        raise ExpressionError("the value nests too deeply to write as text", position=0) from None


def to_text(value: Any) -> str:
    """A value as AliECS splices it into text: Go ``%v``, but lists and maps as compact JSON."""
    kind = value.__class__
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if kind is int:
        return str(value)
    if kind is float:
        return _go_float(value)
    if isinstance(value, list | tuple | Mapping):
        return go_json(value)
    return str(value)


def _go_float(number: float) -> str:
    """strconv.FormatFloat(number, 'g', -1, 64): shortest digits, exponent iff exp < -4 or exp >= 6."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, number) < 0 else ""
    if number == 0:
        return sign + "0"
    digits, point = _shortest_digits(number)
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        return sign + _exponent_form(digits, exponent, pad=True)
    return sign + _fixed_form(digits, point)


def _json_float(number: float) -> str:
    """A float as Go's encoding/json writes it: fixed unless < 1e-6 or >= 1e21, exponent unpadded."""
    if not math.isfinite(number):
        raise ExpressionError(f"cannot write {_go_float(number)} as JSON")
    sign = "-" if math.copysign(1.0, number) < 0 else ""
    if number == 0:
        return sign + "0"
    digits, point = _shortest_digits(number)
    if abs(number) < 1e-6 or abs(number) >= 1e21:
        return sign + _exponent_form(digits, point - 1, pad=False)
    return sign + _fixed_form(digits, point)


def _shortest_digits(number: float) -> tuple[str, int]:
    """The shortest round-trip digits of |number| and the point position: |number| = 0.DIGITS × 10**point."""
    mantissa, _, exponent = repr(abs(number)).partition("e")
    whole, _, fraction = mantissa.partition(".")
    digits = whole + fraction
    significant = digits.lstrip("0")
    point = len(whole) - (len(digits) - len(significant)) + int(exponent or 0)
    return significant.rstrip("0"), point


def _exponent_form(digits: str, exponent: int, *, pad: bool) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    width = 2 if pad or exponent > 0 else 1
    return f"{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):0{width}d}"


def _fixed_form(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


#: what Go's json.Marshal escapes (typed as str.maketrans takes it)
_JSON_HTML_ESCAPES: dict[str, str | int | None] = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
_JSON_HTML_TABLE = str.maketrans(_JSON_HTML_ESCAPES)


def go_json(value: Any) -> str:
    """Compact JSON as Go's json.Marshal: sorted keys, HTML characters escaped, non-ASCII kept."""
    text = _json_value(value)
    if any(char in text for char in _JSON_HTML_ESCAPES):
        text = text.translate(_JSON_HTML_TABLE)
    return text


def _json_value(value: Any) -> str:
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _json_float(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        keyed = {key if isinstance(key, str) else to_text(key): item for key, item in value.items()}
        members = (json.dumps(key, ensure_ascii=False) + ":" + _json_value(keyed[key]) for key in sorted(keyed))
        return "{" + ",".join(members) + "}"
    return json.dumps(to_text(value), ensure_ascii=False)


# --- the parser and the compiler from parse tree to closures ---------------------------------------


@functools.cache
def _parser() -> Any:
    from lark import Lark

    return Lark.open("expr.lark", rel_to=__file__, parser="lalr", maybe_placeholders=True)


_OPERAND_TERMINALS = {"NAME", "INT", "STRING", "LPAR"}
_EXPECTED = {
    "RPAR": "')'",
    "RSQB": "']'",
    "RBRACE": "'}'",
    "COLON": "':'",
    "COMMA": "','",
    "NAME": "a name",
    "IN": "'in'",
    "CONTAINS": "'contains'",
    "STARTSWITH": "'startsWith'",
    "ENDSWITH": "'endsWith'",
}
_CHARACTER_HINTS = {
    "=": "compare with '=='",
    "&": "use '&&' for 'and'",
    "|": "use '||' for 'or'",
}


def _bad_character(source: str, position: int) -> ExpressionError:
    char = source[position]
    if char in "'\"`":
        return ExpressionError("unterminated string", expression=source, position=position)
    return ExpressionError(
        f"unexpected character {char!r}", expression=source, position=position, hint=_CHARACTER_HINTS.get(char)
    )


def _unexpected_token(source: str, error: Any) -> ExpressionError:
    token = error.token
    at_end = token.type == "$END"
    position = len(source) if at_end else token.start_pos
    found = "the end" if at_end else repr(str(token.value))
    expected = set(error.expected)
    if expected >= _OPERAND_TERMINALS:
        message = "expected an expression" if at_end else f"expected an expression, found {found}"
    else:
        message = f"unexpected {'end of expression' if at_end else found}"
        if expected and expected <= _EXPECTED.keys():
            message += ", expected " + " or ".join(sorted(_EXPECTED[name] for name in expected))
    return ExpressionError(message, expression=source, position=position)


class _Node:
    """A compiled sub-expression: its evaluator and where it stands in the source."""

    __slots__ = ("constant", "end", "evaluate", "focus", "start")

    def __init__(self, evaluate: Evaluator, start: int, end: int, focus: int | None = None, constant: Any = None):
        self.evaluate = evaluate
        self.start = start
        self.end = end
        self.focus = start if focus is None else focus  # where errors about this node point
        self.constant = constant  # a _Constant for literals


class _Constant:
    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


class _Mismatch(Exception):
    """An operator got operands of the wrong types; the closure adds the position."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.hint = hint


def _literal(value: Any, token: Any) -> _Node:
    return _Node(lambda env: value, token.start_pos, token.end_pos, constant=_Constant(value))


def _first_position(tree: Any) -> int:
    """Where the source of a parse (sub)tree starts: its first token."""
    while not isinstance(tree, str):
        tree = next(child for child in tree.children if child is not None)
    return getattr(tree, "start_pos", 0) or 0


def _nodes_of(children: list[Any]) -> list[_Node]:
    return [child for child in children if isinstance(child, _Node)]


class _Compiler:
    """Turns a lark parse tree into closures, bottom-up: one method per rule or alias of expr.lark."""

    def __init__(self, source: str):
        self.source = source
        self.names: dict[str, int] = {}  # free names and where each first appears

    def build(self, tree: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ExpressionError(
                f"the expression nests deeper than {MAX_DEPTH} levels", position=_first_position(tree)
            )
        children = [
            child if child is None or isinstance(child, str) else self.build(child, depth + 1)
            for child in tree.children
        ]
        return getattr(self, tree.data)(children)

    def _label(self, node: _Node) -> str:
        return self.source[node.start : node.end]

    # primaries

    def name(self, children: list[Any]) -> _Node:
        (token,) = children
        key = str(token)
        if key in BUILTINS:
            builtin = BUILTINS[key]
            return _Node(lambda env: env.get(key, builtin), token.start_pos, token.end_pos)
        self.names.setdefault(key, token.start_pos)
        return _Node(lambda env: env[key], token.start_pos, token.end_pos)

    def integer(self, children: list[Any]) -> _Node:
        (token,) = children
        return _literal(_parse_int(token), token)

    def floating(self, children: list[Any]) -> _Node:
        (token,) = children
        return _literal(float(token.replace("_", "")), token)

    def string(self, children: list[Any]) -> _Node:
        (token,) = children
        return _literal(_unquote(token), token)

    def raw_string(self, children: list[Any]) -> _Node:
        (token,) = children
        return _literal(str(token)[1:-1], token)

    def true(self, children: list[Any]) -> _Node:
        return _literal(True, children[0])

    def false(self, children: list[Any]) -> _Node:
        return _literal(False, children[0])

    def nil(self, children: list[Any]) -> _Node:
        return _literal(None, children[0])

    def parenthesized(self, children: list[Any]) -> _Node:
        return children[1]

    def array(self, children: list[Any]) -> _Node:
        opening, *_, closing = children
        items = tuple(item.evaluate for item in _nodes_of(children))
        return _Node(lambda env: [item(env) for item in items], opening.start_pos, closing.end_pos)

    def map(self, children: list[Any]) -> _Node:
        opening, *_, closing = children
        pairs = tuple(child for child in children if isinstance(child, tuple))
        return _Node(lambda env: {key: value(env) for key, value in pairs}, opening.start_pos, closing.end_pos)

    def pair(self, children: list[Any]) -> tuple[Any, Evaluator]:
        key, _, value = children
        if key.type == "NAME":
            return str(key), value.evaluate
        if key.type == "INT":
            return _parse_int(key), value.evaluate
        return (str(key)[1:-1] if key.type == "RAWSTRING" else _unquote(key)), value.evaluate

    # postfix

    def member(self, children: list[Any]) -> _Node:
        target, _, token = children
        key = str(token)
        get, label, position = target.evaluate, self._label(target), token.start_pos

        def evaluate(env: Env) -> Any:
            return _get_member(get(env), key, label, position)

        return _Node(evaluate, target.start, token.end_pos, focus=position)

    def index(self, children: list[Any]) -> _Node:
        target, opening, key, closing = children
        get, get_key, label, position = target.evaluate, key.evaluate, self._label(target), opening.start_pos

        def evaluate(env: Env) -> Any:
            return _get_item(get(env), get_key(env), label, position)

        return _Node(evaluate, target.start, closing.end_pos, focus=position)

    def call(self, children: list[Any]) -> _Node:
        callee, *_, closing = children
        arguments = tuple(argument.evaluate for argument in _nodes_of(children[1:]))
        get, label, position = callee.evaluate, self._label(callee), callee.focus

        def evaluate(env: Env) -> Any:
            function = get(env)
            if not callable(function):
                raise ExpressionError(f"{label} is not a function but {_describe(function)}", position=position)
            values = [argument(env) for argument in arguments]
            try:
                return function(*values)
            except Exception as error:  # a failing function is the template's problem, not ours
                raise _call_failed(label, error, position) from error

        return _Node(evaluate, callee.start, closing.end_pos, focus=position)

    # operators

    def unary(self, children: list[Any]) -> _Node:
        token, operand = children
        symbol, get, position = str(token), operand.evaluate, token.start_pos
        if symbol in ("!", "not"):

            def evaluate(env: Env) -> Any:
                value = get(env)
                if value is True:
                    return False
                if value is False:
                    return True
                raise _not_boolean(f"operator '{symbol}' needs a bool, got", value, position)

        else:
            sign = -1 if symbol == "-" else 1

            def evaluate(env: Env) -> Any:
                value = get(env)
                if not _is_number(value):
                    raise ExpressionError(
                        f"operator '{symbol}' needs a number, got {_describe(value)}", position=position
                    )
                if isinstance(value, int) and not -_INT64 <= sign * value < _INT64:
                    raise ExpressionError(f"operator '{symbol}': integer overflow", position=position)
                return sign * value

        return _Node(evaluate, token.start_pos, operand.end, focus=position)

    def binary(self, children: list[Any]) -> _Node:
        left, token, right = children
        return self._operation(left, str(token), right, token.start_pos, negate=False)

    def negated(self, children: list[Any]) -> _Node:
        left, not_token, token, right = children
        return self._operation(left, str(token), right, not_token.start_pos, negate=True)

    def _operation(self, left: _Node, symbol: str, right: _Node, position: int, *, negate: bool) -> _Node:
        get_left, get_right = left.evaluate, right.evaluate
        constant = right.constant or left.constant
        if symbol in ("==", "!=") and constant is not None and isinstance(constant.value, str):
            # The hot path of templates: `x == 'true'`. Only another string can equal a string.
            text, other = constant.value, (get_left if right.constant else get_right)
            equal = symbol == "=="

            def compare_text(env: Env) -> bool:
                value = other(env)
                return (isinstance(value, str) and value == text) is equal

            return _Node(compare_text, left.start, right.end, focus=position)
        apply = _OPERATORS[symbol]

        def evaluate(env: Env) -> Any:
            try:
                result = apply(get_left(env), get_right(env))
            except _Mismatch as error:
                raise ExpressionError(str(error), position=position, hint=error.hint) from None
            except (ArithmeticError, ValueError) as error:  # e.g. a number too large for a float
                raise ExpressionError(f"operator '{symbol}': {error}", position=position) from None
            return not result if negate else result

        return _Node(evaluate, left.start, right.end, focus=position)

    def logical(self, children: list[Any]) -> _Node:
        left, token, right = children
        symbol, get_left, get_right, position = str(token), left.evaluate, right.evaluate, token.start_pos
        stop = symbol in ("||", "or")  # the left value that decides without looking right

        def evaluate(env: Env) -> Any:
            value = get_left(env)
            if value is stop:
                return stop
            if value is not (not stop):
                raise _not_boolean(f"operator '{symbol}' needs bools, but its left side is", value, position)
            value = get_right(env)
            if value is True or value is False:
                return value
            raise _not_boolean(f"operator '{symbol}' needs bools, but its right side is", value, position)

        return _Node(evaluate, left.start, right.end, focus=position)

    def ternary(self, children: list[Any]) -> _Node:
        condition, token, then, _, otherwise = children
        get_condition, get_then, get_otherwise = condition.evaluate, then.evaluate, otherwise.evaluate
        position = token.start_pos

        def evaluate(env: Env) -> Any:
            value = get_condition(env)
            if value is True:
                return get_then(env)
            if value is False:
                return get_otherwise(env)
            raise _not_boolean("the condition of '?:' must be a bool, got", value, position)

        return _Node(evaluate, condition.start, otherwise.end, focus=position)

    def coalesce(self, children: list[Any]) -> _Node:
        left, token, right = children
        get_left, get_right = left.evaluate, right.evaluate

        def evaluate(env: Env) -> Any:
            value = get_left(env)
            return get_right(env) if value is None else value

        return _Node(evaluate, left.start, right.end, focus=token.start_pos)


# --- literals ----------------------------------------------------------------------------------


def _parse_int(token: Any) -> int:
    text = token.replace("_", "").lower()
    shown = token if len(token) <= 30 else f"{token[:20]}...({len(token)} characters)"
    try:
        value = int(text, 0) if text[:2] in ("0x", "0o", "0b") else int(text, 10)
    except ValueError:  # Python refuses to convert more than 4300 decimal digits
        value = _INT64
    if value >= _INT64:
        raise ExpressionError(f"integer {shown} does not fit in 64 bits", position=token.start_pos)
    return value


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_HEX_ESCAPES = {"x": 2, "u": 4, "U": 8}


def _unquote(token: Any) -> str:
    """The value of a quoted string literal, with Go's escapes."""
    body, base = str(token)[1:-1], token.start_pos + 1
    if "\\" not in body:
        return body
    out, index = [], 0
    while (slash := body.find("\\", index)) >= 0:
        out.append(body[index:slash])
        code = body[slash + 1]
        if code in _ESCAPES:
            out.append(_ESCAPES[code])
            index = slash + 2
        elif code in _HEX_ESCAPES:
            width = _HEX_ESCAPES[code]
            digits = body[slash + 2 : slash + 2 + width]
            if len(digits) != width or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ExpressionError(f"'\\{code}' needs {width} hex digits", position=base + slash)
            try:
                out.append(chr(int(digits, 16)))
            except ValueError:
                raise ExpressionError(f"'\\{code}{digits}' is not a character", position=base + slash) from None
            index = slash + 2 + len(digits)
        else:
            raise ExpressionError(f"unknown escape '\\{code}' in string", position=base + slash)
    out.append(body[index:])
    return "".join(out)


# --- operator semantics ---------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and value.__class__ is not bool


def _type_name(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, Mapping):
        return "map"
    if callable(value):
        return "function"
    return type(value).__name__


def _describe(value: Any) -> str:
    """The type and, for scalars, a short view of the value: `string "true"`, `int 3`, `nil`."""
    name = _type_name(value)
    if isinstance(value, str):
        shown = json.dumps(value if len(value) <= 40 else value[:37] + "...", ensure_ascii=False)
        return f"{name} {shown}"
    if isinstance(value, bool | int | float):
        return f"{name} {to_text(value)}"
    return name


def _not_boolean(message: str, value: Any, position: int) -> ExpressionError:
    hint = None
    if isinstance(value, str):
        hint = "template variables are strings: compare them, e.g. x == 'true'"
    return ExpressionError(f"{message} {_describe(value)}", position=position, hint=hint)


def _equal(a: Any, b: Any) -> bool:
    """expr's ==: numbers compare by value across int and float, everything else needs equal types."""
    if isinstance(a, bool) or isinstance(b, bool):
        return a.__class__ is b.__class__ and a == b
    if _is_number(a) and _is_number(b):
        return a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[key], b[key]) for key in a)
    return a.__class__ is b.__class__ and a == b


def _int64(symbol: str, value: Any) -> Any:
    """Integer results stay in Go's int64 (Go wraps around silently; we say so instead)."""
    if value.__class__ is int and not -_INT64 <= value < _INT64:
        raise _Mismatch(f"operator '{symbol}': integer overflow (the result does not fit in 64 bits)")
    return value


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, str) and isinstance(b, str):
        return a + b
    if _is_number(a) and _is_number(b):
        return _int64("+", a + b)
    raise _Mismatch(f"operator '+' cannot add {_describe(a)} and {_describe(b)}")


def _arithmetic(symbol: str, apply: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    def operate(a: Any, b: Any) -> Any:
        if not (_is_number(a) and _is_number(b)):
            raise _Mismatch(f"operator '{symbol}' needs numbers, got {_describe(a)} and {_describe(b)}")
        return _int64(symbol, apply(a, b))

    return operate


def _divide(a: Any, b: Any) -> float:
    if b == 0:
        raise _Mismatch("division by zero")
    return float(a) / float(b)


def _modulo(a: Any, b: Any) -> int:
    if isinstance(a, float) or isinstance(b, float):
        raise _Mismatch(f"operator '%' needs integers, got {_describe(a)} and {_describe(b)}")
    if b == 0:
        raise _Mismatch("division by zero")
    remainder = abs(a) % abs(b)  # Go truncates: the remainder takes the sign of the dividend
    return -remainder if a < 0 else remainder


def _ordering(symbol: str, apply: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if (_is_number(a) and _is_number(b)) or (isinstance(a, str) and isinstance(b, str)):
            return apply(a, b)
        hint = None
        if isinstance(a, str) != isinstance(b, str) and (_is_number(a) or _is_number(b)):
            hint = "template variables are strings: convert one side, e.g. strings.Atoi(x)"
        raise _Mismatch(f"operator '{symbol}' cannot compare {_describe(a)} and {_describe(b)}", hint)

    return compare


def _member_of(needle: Any, haystack: Any) -> bool:
    if isinstance(haystack, list | tuple):
        return any(_equal(needle, item) for item in haystack)
    if isinstance(haystack, Mapping):
        try:
            return needle in haystack
        except TypeError:  # an unhashable needle is in no map
            return False
    if haystack is None:
        return False
    hint = None
    if isinstance(haystack, str):
        if haystack.lstrip().startswith(("[", "{")):
            hint = "the right side is JSON text: decode it first, e.g. 'x' in json.Unmarshal(list)"
        else:
            hint = "to look for a substring use 'contains'"
    raise _Mismatch(f"operator 'in' needs a list or a map on its right, got {_describe(haystack)}", hint)


def _text_operator(symbol: str, apply: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def operate(a: Any, b: Any) -> bool:
        if isinstance(a, str) and isinstance(b, str):
            return apply(a, b)
        raise _Mismatch(f"operator '{symbol}' needs strings, got {_describe(a)} and {_describe(b)}")

    return operate


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "==": _equal,
    "!=": lambda a, b: not _equal(a, b),
    "<": _ordering("<", operator.lt),
    "<=": _ordering("<=", operator.le),
    ">": _ordering(">", operator.gt),
    ">=": _ordering(">=", operator.ge),
    "in": _member_of,
    "contains": _text_operator("contains", operator.contains),
    "startsWith": _text_operator("startsWith", str.startswith),
    "endsWith": _text_operator("endsWith", str.endswith),
    "+": _add,
    "-": _arithmetic("-", operator.sub),
    "*": _arithmetic("*", operator.mul),
    "/": _arithmetic("/", _divide),
    "%": _arithmetic("%", _modulo),
}


# --- members, indexing and calls ------------------------------------------------------------------

_NO_MEMBERS = (str, int, float, bool, list, tuple)


def _get_member(target: Any, key: str, label: str, position: int) -> Any:
    if isinstance(target, Mapping):
        return target.get(key)
    if target is None:
        raise ExpressionError(f"cannot get member '{key}' of nil ({label} is nil)", position=position)
    if isinstance(target, _NO_MEMBERS):
        raise ExpressionError(f"cannot get member '{key}' of {_describe(target)} ({label})", position=position)
    if key.startswith("_"):
        raise ExpressionError(f"member '{key}' of {label} is not accessible", position=position)
    try:
        return getattr(target, key)
    except AttributeError:
        members = [name for name in dir(target) if not name.startswith("_")]
        close = difflib.get_close_matches(key, members, n=1)
        raise ExpressionError(
            f"{label} has no member '{key}'",
            position=position,
            hint=f"did you mean '{close[0]}'?" if close else None,
        ) from None
    except Exception as error:  # a property that fails
        raise _call_failed(f"{label}.{key}", error, position) from error


def _get_item(target: Any, key: Any, label: str, position: int) -> Any:
    if isinstance(target, Mapping):
        try:
            return target.get(key)
        except TypeError:
            raise ExpressionError(f"cannot use {_describe(key)} as a key of {label}", position=position) from None
    if isinstance(target, list | tuple | str):
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExpressionError(f"index of {label} must be an int, got {_describe(key)}", position=position)
        length = len(target)
        index = key + length if key < 0 else key
        if not 0 <= index < length:
            raise ExpressionError(f"index {key} out of range for {label} (length {length})", position=position)
        return target[index]
    raise ExpressionError(f"cannot index {_describe(target)} ({label})", position=position)


def _call_failed(label: str, error: Exception, position: int) -> ExpressionError:
    if isinstance(error, HandledError):
        failed = ExpressionError(f"{label}(): {error.message}", position=position, hint=error.hint)
        failed.cli_hint = error.cli_hint
        return failed
    detail = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return ExpressionError(f"{label}(): {detail}", position=position)
