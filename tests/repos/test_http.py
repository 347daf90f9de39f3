"""Cloning and refreshing over real smart HTTP: git's own http-backend behind a loopback server."""

from __future__ import annotations

import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ecs_engine.errors import UnreachableError

from ..servers import need_program

GIT_EXEC = subprocess.run(["git", "--exec-path"], capture_output=True, text=True, check=False).stdout.strip()
BACKEND = Path(GIT_EXEC) / "git-http-backend"


def serve_git(root: Path) -> ThreadingHTTPServer:
    """An HTTP server on 127.0.0.1 running git-http-backend (CGI) for the repositories under ``root``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _cgi(self) -> None:
            path, _, query = self.path.partition("?")
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            env = {
                "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                "GIT_PROJECT_ROOT": str(root),
                "GIT_HTTP_EXPORT_ALL": "1",
                "REQUEST_METHOD": self.command,
                "PATH_INFO": path,
                "QUERY_STRING": query,
                "CONTENT_TYPE": self.headers.get("Content-Type", ""),
                "CONTENT_LENGTH": str(len(body)),
                "HTTP_CONTENT_ENCODING": self.headers.get("Content-Encoding", ""),
                "GIT_PROTOCOL": self.headers.get("Git-Protocol", ""),
                "REMOTE_ADDR": "127.0.0.1",
            }
            done = subprocess.run([str(BACKEND)], input=body, env=env, capture_output=True, check=False)
            head, _, payload = done.stdout.partition(b"\r\n\r\n")
            status, headers = 200, []
            for line in head.decode("latin-1").split("\r\n"):
                key, _, value = line.partition(":")
                if key.lower() == "status":
                    status = int(value.split()[0])
                elif key:
                    headers.append((key, value.strip()))
            self.send_response(status)
            for key, value in headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _cgi

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def http_remote(mutable_history, tmp_path):
    need_program("git-http-backend", "git", path=str(BACKEND))
    served = tmp_path / "served"
    served.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(mutable_history.path), str(served / "cw.git")], check=True)
    server = serve_git(served)
    yield f"http://127.0.0.1:{server.server_address[1]}/cw.git", served / "cw.git", server
    server.shutdown()
    server.server_close()


def test_clone_list_and_refresh_over_http(manager, http_remote, mutable_history):
    url, bare, _ = http_remote
    port = url.split(":")[2].split("/")[0]
    result = manager.add(url)
    assert result.repo.name == f"127.0.0.1:{port}/cw"
    assert result.repo.protocol == "http"
    assert manager.resolve(f"127.0.0.1:{port}/cw/workflows/old-only@v1")[0].revision == mutable_history.commits["c1"]
    mutable_history.workflow("over-http")
    mutable_history.commit("new")
    mutable_history.git("push", "-q", str(bare), "master")
    manager.refresh()
    assert "over-http" in {i.template for i in manager.templates()}


def test_unreachable_server_is_one_clear_error(manager, http_remote):
    url, _, server = http_remote
    manager.add(url)
    server.shutdown()
    server.server_close()
    with pytest.raises(UnreachableError) as err:
        manager.refresh()
    port = url.split(":")[2].split("/")[0]
    assert err.value.message.startswith(f"cannot fetch repository 127.0.0.1:{port}/cw from {url}: ")
    assert "check the address" in err.value.hint
