"""Short unique ids for environments, tasks and ``uid.New()`` (Sonyflake-like, base58, ~11 characters)."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "123456789abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
_EPOCH = 1257894000.0  # 2009-11-10 23:00 UTC, as upstream
_lock = threading.Lock()
_last = 0
_seq = 0
_machine = int.from_bytes(os.urandom(2), "big")


def _base58(n: int) -> str:
    out = []
    while n:
        n, rem = divmod(n, 58)
        out.append(_ALPHABET[rem])
    return "".join(reversed(out)) or _ALPHABET[0]


def new_id() -> str:
    """A new id: 39 bits of 10 ms ticks, 8 bits of sequence, 16 bits of machine; strictly unique per process."""
    global _last, _seq
    with _lock:
        now = int((time.time() - _EPOCH) * 100)
        if now <= _last:
            _seq = (_seq + 1) & 0xFF
            if _seq == 0:
                _last += 1
            now = _last
        else:
            _seq = 0
            _last = now
        return _base58((now << 24) | (_seq << 16) | _machine)
