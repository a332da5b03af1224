"""Group commit of query-log rows (app/store/groupcommit.py): concurrent questions share transactions, every
caller returns only after its row is committed, and one row's error stays that row's."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from app.store.groupcommit import GroupCommit
from app.store.querylog import QueryLog
from tests.support.querylog import result


def test_concurrent_records_share_commits_and_none_is_lost(tmp_path):
    log = QueryLog(f"sqlite:///{tmp_path / 'q.db'}")
    threads, per = 16, 15
    start = threading.Barrier(threads)
    ids: list[str] = []
    lock = threading.Lock()
    returned_before_commit = []

    def asker() -> None:
        start.wait()
        for _ in range(per):
            r = result("有給は何日？")
            log.record(r)
            # Acknowledged means committed: another connection sees the row at once.
            if log.get(r.query_id) is None:
                returned_before_commit.append(r.query_id)
            with lock:
                ids.append(r.query_id)

    workers = [threading.Thread(target=asker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not returned_before_commit
    assert len(ids) == threads * per
    assert log.count() == threads * per
    assert log._group.rows == threads * per
    assert log._group.batches < threads * per  # rows were grouped (one fsync for many)
    log.close()


def test_a_retried_write_in_a_batch_is_merged_not_lost(tmp_path):
    log = QueryLog(f"sqlite:///{tmp_path / 'q.db'}")
    first = result("経費の締め日は？")
    log.record(first, meta={"a": 1})
    again = result("経費の締め日は？")
    again.query_id = first.query_id
    others = [result(f"質問{i}") for i in range(6)]
    barrier = threading.Barrier(len(others) + 1)
    errors = []

    def write(r, meta):
        barrier.wait()
        try:
            log.record(r, meta=meta)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    workers = [threading.Thread(target=write, args=(r, {})) for r in others]
    workers.append(threading.Thread(target=write, args=(again, {"b": 2})))
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    assert log.count() == 7
    assert log.get(first.query_id).meta == {"a": 1, "b": 2}
    log.close()


def test_one_rows_error_reaches_only_its_caller():
    written: list[str] = []
    gate = threading.Event()

    def write_batch(rows):
        gate.wait(5)
        out = []
        for row in rows:
            if row == "bad":
                out.append(ValueError("bad row"))
            else:
                written.append(row)
                out.append(None)
        return out

    group = GroupCommit(write_batch)
    outcomes: dict[str, object] = {}

    def call(row):
        try:
            group.write(row)
            outcomes[row] = "ok"
        except ValueError as exc:
            outcomes[row] = exc

    workers = [threading.Thread(target=call, args=(r,)) for r in ["a", "b", "bad", "c", "d"]]
    for w in workers:
        w.start()
        time.sleep(0.01)
    gate.set()
    for w in workers:
        w.join(5)
    assert isinstance(outcomes["bad"], ValueError)
    assert {k: v for k, v in outcomes.items() if k != "bad"} == {"a": "ok", "b": "ok", "c": "ok", "d": "ok"}
    assert sorted(written) == ["a", "b", "c", "d"]
    assert group.batches < 5  # the first leader's batch was alone; the rest queued behind it and shared one


def test_a_failing_writer_never_leaves_a_caller_waiting():
    def broken(rows):
        raise RuntimeError("database gone")

    group = GroupCommit(broken)
    errors = []

    def call():
        try:
            group.write(uuid.uuid4().hex)
        except RuntimeError as exc:
            errors.append(exc)

    workers = [threading.Thread(target=call) for _ in range(8)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(5)
    assert len(errors) == 8 and not any(w.is_alive() for w in workers)
    with pytest.raises(RuntimeError):
        group.write("after")
