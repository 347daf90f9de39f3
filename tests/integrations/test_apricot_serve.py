"""``coconut apricot serve`` on a port in use: the one error line the mocks give, no raw gRPC log line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys


def test_a_port_in_use_is_one_error_with_a_hint_and_no_grpc_log_line(tmp_path):
    env = {**os.environ, **{f"XDG_{kind}_HOME": str(tmp_path / kind) for kind in ("CONFIG", "DATA", "STATE")}}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "coconut", "apricot", "serve", "--port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode == 5
    assert result.stderr.splitlines() == [
        f"coconut: error: cannot start apricot on 127.0.0.1:{port}: something listens there already",
        "  hint: choose another --port",
    ]
