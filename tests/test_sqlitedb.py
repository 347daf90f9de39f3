"""The project's SQLite files: commits never run a WAL checkpoint; the checkpoint thread does, off their path."""

from __future__ import annotations

import os
import time

import pytest

from ecs_engine import sqlitedb

SCHEMA = "CREATE TABLE IF NOT EXISTS blobs (data BLOB NOT NULL);"


def write_pages(db, pages: int) -> None:
    """About ``pages`` pages of 4 KiB, committed 5 at a time (past SQLite's 1,000-page checkpoint at 2,000)."""
    for _ in range(pages // 5):
        with sqlitedb.write_transaction(db):
            db.execute("INSERT INTO blobs (data) VALUES (?)", (os.urandom(5 * 4000),))


@pytest.fixture
def by_hand(monkeypatch):
    """Checkpoints that happen only when the test calls ``look()``."""
    checkpoints = sqlitedb.Checkpoints(every=None)
    monkeypatch.setattr(sqlitedb, "CHECKPOINTS", checkpoints)
    return checkpoints


def test_commits_leave_the_wal_to_the_checkpoint_thread(tmp_path, by_hand):
    path = tmp_path / "data.sqlite"
    db = sqlitedb.open_database(path, SCHEMA, what="the test database")
    try:
        before = path.stat().st_size
        write_pages(db, 2000)
        assert path.stat().st_size == before  # SQLite's own checkpoint would have copied 1,000 pages by now
        by_hand.look()
        assert path.stat().st_size > 2000 * 4000
        assert db.execute("SELECT COUNT(*) FROM blobs").fetchone()[0] == 400
    finally:
        db.close()


def test_the_checkpoint_thread_takes_what_was_written(tmp_path, monkeypatch):
    monkeypatch.setattr(sqlitedb, "CHECKPOINTS", sqlitedb.Checkpoints(every=0.05))
    path = tmp_path / "data.sqlite"
    db = sqlitedb.open_database(path, SCHEMA, what="the test database")
    try:
        write_pages(db, 200)
        deadline = time.monotonic() + 10
        while path.stat().st_size < 200 * 4000:
            assert time.monotonic() < deadline, "no checkpoint within 10 s"
            time.sleep(0.02)
    finally:
        db.close()


def test_a_closed_database_is_let_go_and_never_created_again(tmp_path, by_hand):
    path = tmp_path / "data.sqlite"
    db = sqlitedb.open_database(path, SCHEMA, what="the test database")
    write_pages(db, 10)
    db.close()
    for leftover in tmp_path.iterdir():
        leftover.unlink()
    by_hand.look()
    assert list(tmp_path.iterdir()) == []
    assert len(by_hand) == 0


def test_a_wal_a_burst_made_long_is_cut_back_once_checkpointed(tmp_path, by_hand):
    path = tmp_path / "data.sqlite"
    wal = tmp_path / "data.sqlite-wal"
    db = sqlitedb.open_database(path, SCHEMA, what="the test database")
    try:
        while wal.stat().st_size < 2 * sqlitedb.WAL_KEPT_BYTES:
            write_pages(db, 250)
        by_hand.look()
        write_pages(db, 5)  # the next writer starts the WAL over, and cuts it
        assert wal.stat().st_size <= sqlitedb.WAL_KEPT_BYTES
    finally:
        db.close()
