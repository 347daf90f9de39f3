"""Cloning over ssh with a key pair, against a real sshd on loopback (Debian package openssh-server)."""

from __future__ import annotations

import getpass
import socket
import subprocess
import time
from pathlib import Path

import pytest

from ecs_engine.errors import UnreachableError
from ecs_engine.repos import RepoManager

from ..servers import need_program


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keypair(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)
    return path


@pytest.fixture
def sshd(tmp_path):
    """sshd on 127.0.0.1 accepting the returned client key for the current user."""
    sshd_program = need_program("sshd", "openssh-server", path="/usr/sbin/sshd")
    need_program("ssh", "openssh-client")
    root = tmp_path / "sshd"
    root.mkdir()
    client = keypair(root / "client")
    (root / "authorized_keys").write_text((root / "client.pub").read_text())
    port = free_port()
    (root / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {keypair(root / 'hostkey')}\n"
        f"AuthorizedKeysFile {root / 'authorized_keys'}\nPidFile {root / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
        "PermitRootLogin prohibit-password\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)  # privilege separation directory
    log = (root / "log").open("w")
    proc = subprocess.Popen([sshd_program, "-D", "-e", "-f", str(root / "sshd_config")], stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"sshd did not start on port {port}: {(root / 'log').read_text()}")
            time.sleep(0.05)
    yield port, client
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture
def served(history, tmp_path):
    bare = tmp_path / "served" / "cw.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(history.path), str(bare)], check=True)
    return bare


def test_clone_over_ssh_with_a_key(sshd, served, tmp_path, config, history):
    port, client = sshd
    manager = RepoManager(tmp_path / "data", config, ssh_key=client)
    result = manager.add(f"ssh://{getpass.getuser()}@127.0.0.1:{port}{served}")
    assert (result.repo.protocol, result.repo.name) == ("ssh", f"127.0.0.1{served.with_suffix('')}")
    assert manager.resolve("old-only@v1")[0].revision == history.commits["c1"]
    assert manager.refresh() == []


def test_a_key_the_server_does_not_accept(sshd, served, tmp_path, config):
    port, _ = sshd
    stranger = keypair(tmp_path / "stranger")
    manager = RepoManager(tmp_path / "data", config, ssh_key=stranger, network_timeout=10)
    with pytest.raises(UnreachableError) as err:
        manager.add(f"ssh://{getpass.getuser()}@127.0.0.1:{port}{served}")
    assert err.value.message.startswith(f"cannot fetch repository 127.0.0.1{served.with_suffix('')} from ssh://")
    assert manager.list().repos == []
