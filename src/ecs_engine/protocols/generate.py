"""Regenerate the committed Python stubs from ``protos/*.proto``: ``python -m ecs_engine.protocols.generate``.

The .proto files are compiled under the virtual import root ``ecs_engine/protocols`` so that the generated
modules import each other as ``ecs_engine.protocols.<name>_pb2`` inside the installed package. grpcio-tools
(a dev dependency, pinned in pyproject.toml so that regenerating is reproducible) provides protoc.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
PROTO_DIR = PACKAGE_DIR / "protos"
IMPORT_ROOT = "ecs_engine/protocols"
SOURCE_ROOT = PACKAGE_DIR.parents[1]  # the directory holding the ecs_engine package


def proto_files() -> list[Path]:
    return sorted(PROTO_DIR.glob("*.proto"))


def generate(out_root: Path = SOURCE_ROOT) -> list[Path]:
    """Compile every .proto into ``out_root/ecs_engine/protocols``; return the files written."""
    try:
        from grpc_tools import protoc
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise SystemExit("grpcio-tools is needed to regenerate the stubs: pip install -e '.[dev]'") from exc

    target = out_root / IMPORT_ROOT
    target.mkdir(parents=True, exist_ok=True)
    args = [
        "protoc",
        f"-I{IMPORT_ROOT}={PROTO_DIR}",
        f"--python_out={out_root}",
        f"--pyi_out={out_root}",
        f"--grpc_python_out={out_root}",
        *(str(path) for path in proto_files()),
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed; see the messages above")
    return sorted(target.glob("*_pb2*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ecs_engine.protocols.generate", description=__doc__)
    parser.add_argument(
        "--out",
        type=Path,
        default=SOURCE_ROOT,
        help="root to write ecs_engine/protocols/*_pb2*.py(i) under (default: the package's own source tree)",
    )
    options = parser.parse_args(argv)
    for path in generate(options.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
