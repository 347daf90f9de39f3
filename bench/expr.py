"""Speed of template expressions: evaluations per second of typical corpus expressions.

Target (from the template loader): 1e5 evaluations/s of a small expression such as
``dd_enabled == 'true' && x != 'y'``. Also shows the compile cache hit rate when every ``{{ }}``
span of the real corpus is compiled, as the loader does for each role that renders it.

Run: .venv/bin/python bench/expr.py
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ecs_engine.template.expr import compile_expression, render

TARGET = 1e5
CORPUS = Path(__file__).resolve().parents[1] / "../shared/corpus"

ENV = {
    "dd_enabled": "true",
    "qcdd_enabled": "false",
    "minimal_dpl_enabled": "false",
    "dpl_workflow": "none",
    "dpl_command": "none",
    "stfb_enable_datasink": "true",
    "stfb_datasink_dir": "/tmp/sink",
    "modulepath": "",
    "_module_cmdline": "module load x",
    "_plain_cmdline": "x",
    "x": "z",
    "strings": type("Strings", (), {"IsFalsy": staticmethod(lambda s: s.strip().lower() in ("", "none", "false"))})(),
}

CASES = [
    ("small", "dd_enabled == 'true' && x != 'y'"),
    (
        "enabled",
        "dd_enabled == 'true' && (qcdd_enabled == 'false' && minimal_dpl_enabled == 'false' "
        "&& strings.IsFalsy(dpl_workflow) && strings.IsFalsy(dpl_command))",
    ),
    ("ternary", "stfb_enable_datasink == 'true' ? '--data-sink-dir=' + stfb_datasink_dir : ' '"),
    ("len", "len(modulepath)>0 ? _module_cmdline : _plain_cmdline"),
]


def rate(function, seconds: float = 0.5) -> float:
    """Calls per second of ``function``, measured over about ``seconds``."""
    count, batch, start = 0, 1000, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(batch):
            function()
        count += batch
    return count / elapsed


def corpus_cache_hit_rate() -> tuple[int, float]:
    spans = [
        match.group(1).strip()
        for path in sorted(CORPUS.rglob("*"))
        if path.is_file() and path.suffix in ("", ".yaml")
        for match in re.finditer(r"\{\{(.*?)\}\}", path.read_text(errors="replace"), re.S)
    ]
    compile_expression.cache_clear()
    for source in spans:
        try:
            compile_expression(source)
        except Exception:
            pass
    info = compile_expression.cache_info()
    return len(spans), info.hits / max(1, info.hits + info.misses)


def main() -> None:
    for label, source in CASES:
        expression = compile_expression(source)
        per_second = rate(lambda expression=expression: expression.evaluate(ENV))
        print(f"evaluate {label:8} {per_second:>10,.0f}/s  ratio to target {per_second / TARGET:.1f}x   {source[:60]}")
    field = "--data-sink-enable={{ stfb_enable_datasink == 'true' }} {{ len(modulepath)>0 ? 'a' : 'b' }}"
    per_second = rate(lambda: render(field, ENV))
    print(f"render   field    {per_second:>10,.0f}/s  ratio to target {per_second / TARGET:.1f}x   (two spans)")
    if CORPUS.is_dir():
        spans, hit_rate = corpus_cache_hit_rate()
        print(f"compile cache over {spans} corpus spans: hit rate {hit_rate:.0%}")


if __name__ == "__main__":
    main()
