"""A port range of this test session's own, for the cores and executors the tests start (setting ``core.ports``).

Other cores on a shared host (other users, other test sessions) allocate task ports from the backend's
defaults; tests never depend on those. The session claims one block of ``BLOCK`` ports between ``FIRST`` and
``LAST`` (below Linux's ephemeral range, which ``bind(..., 0)`` hands out, and apart from the backend's default
bases) by listening on the block's first port for as long as it lives: a second session finds that port
taken and claims another block. The resource manager still checks that each port it hands out is free.
"""

from __future__ import annotations

import functools
import random
import socket

FIRST, LAST = 20000, 29999
BLOCK = 200


@functools.cache
def own_port_range() -> str:
    """``LO-HI`` for the ``core.ports`` setting: a block of ports no other test session uses."""
    starts = list(range(FIRST, LAST + 1 - BLOCK + 1, BLOCK))
    random.shuffle(starts)
    for start in starts:
        claim = socket.socket()
        try:
            claim.bind(("127.0.0.1", start))
            claim.listen()
        except OSError:
            claim.close()
            continue
        _CLAIMS.append(claim)  # held until the session's process exits
        return f"{start}-{start + BLOCK - 1}"
    raise RuntimeError(f"no free block of {BLOCK} ports in {FIRST}-{LAST} for this test session")


def in_own_range(port: int) -> bool:
    lo, _, hi = own_port_range().partition("-")
    return int(lo) <= port <= int(hi)


_CLAIMS: list[socket.socket] = []
