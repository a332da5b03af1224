"""Two API replicas on one Chroma server and one PostgreSQL, as docker/compose.yaml runs them.

Real processes throughout: `madoguchi ingest` as a one-off job, two `madoguchi serve` processes on free ports, the
session's `chroma run` server and PostgreSQL cluster (tests/servers.py). An updated manual uploaded through one
replica reaches the other within its refresh interval and is never answered from the old text afterwards; every
question, whichever replica took it, lands in the one query log.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import httpx
import pytest

from tests.servers import VENV_BIN, ApiProcess, SessionServers, postgres_bin_dir, stores_mode

pytestmark = pytest.mark.server

TOKEN = "replica-admin-token"
DOC = "駐輪場利用規程.md"
MANUAL = """# 駐輪場利用規程

## 第1条（目的）
この規程は、本社ビル地下駐輪場の利用について定める。

## 第2条（利用料）
駐輪場の利用料は{fee}とし、毎月の給与から控除する。

## 第3条（申請）
駐輪場を利用する者は、総務課に駐輪場利用申請書を提出しなければならない。
"""
OLD, NEW = "月額500円", "月額800円"
QUESTION = "駐輪場の利用料はいくらですか？"


def _env(stores: dict, **more: str) -> dict[str, str]:
    env = {
        "MADOGUCHI_CHROMA_URL": stores["chroma_url"],
        "MADOGUCHI_COLLECTION": stores["collection"],
        "MADOGUCHI_ADMIN_TOKEN": TOKEN,
    }
    if "database_url" in stores:
        env["MADOGUCHI_DATABASE_URL"] = stores["database_url"]
    env.update(more)
    return env


@pytest.fixture(scope="module")
def stores(request, tmp_path_factory):
    """The session's Chroma server and PostgreSQL, with a collection prefix and an empty database of this module's own
    (the two replicas starting together both run the migrations: PostgreSQL's advisory lock must serialise them)."""
    if postgres_bin_dir() is None and stores_mode(request.config) != "server":
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run installs it)")
    servers = SessionServers.of(request.config)
    key = tmp_path_factory.mktemp("replicas-stores")
    yield servers.overrides(key, migrated=False)
    servers.release(key)


@pytest.fixture(scope="module")
def replicas(stores, tmp_path_factory):
    """Replicas `a` and `b` (own data dirs, as on separate hosts; default refresh interval), after a one-off ingest job."""
    root = tmp_path_factory.mktemp("replicas")
    docs = root / "docs"
    docs.mkdir()
    (docs / DOC).write_text(MANUAL.format(fee=OLD), encoding="utf-8")
    apis = {
        name: ApiProcess(
            env=_env(stores, MADOGUCHI_DATA_DIR=str(root / name), MADOGUCHI_DOCS_DIR=str(root / f"{name}-uploads")),
            log=root / f"{name}.log",
        ).launch()
        for name in ("a", "b")
    }
    try:
        # The one-off job (`docker compose run --rm api madoguchi ingest …`) while the replicas come up.
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MADOGUCHI_", "SLACK_", "OPENAI_"))}
        env.update(_env(stores, MADOGUCHI_DATA_DIR=str(root / "job")))
        job = subprocess.run(
            [str(VENV_BIN / "madoguchi"), "ingest", str(docs), "--json"],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert job.returncode == 0, job.stderr
        report = json.loads(job.stdout)
        assert report["files"][0]["status"] == "added" and report["version"] >= 1
        for api in apis.values():
            api.wait(ready=True)
        yield apis
    finally:
        for api in apis.values():
            api.stop()
    for api in apis.values():
        assert "Traceback" not in api.output(), api.output()


@pytest.fixture(scope="module")
def log(stores, replicas):
    """The shared query log, read directly from PostgreSQL (it holds the corpus version each answer came from)."""
    from app.store.querylog import QueryLog

    query_log = QueryLog(stores["database_url"], migrate=False)
    yield query_log
    query_log.close()


def _ask(api: ApiProcess, question: str = QUESTION, **extra) -> dict:
    resp = httpx.post(f"{api.url}/api/ask", json={"question": question, **extra}, timeout=60)
    assert resp.status_code == 200, resp.text
    return resp.json()


def _wait_version(api: ApiProcess, version: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{api.url}/readyz", timeout=10).json().get("corpus_version") == version:
            return
        time.sleep(0.2)
    raise AssertionError(f"{api.url} did not load corpus version {version} in {timeout}s")


def test_every_replica_answers_from_the_one_off_ingest_job(replicas, stores):
    from app.settings import Settings
    from app.store.chroma import ChunkStore

    version = int(
        ChunkStore(
            Settings(_env_file=None, chroma_url=stores["chroma_url"], collection=stores["collection"])
        ).corpus_info()["version"]
    )
    for api in replicas.values():
        _wait_version(api, version)
        body = _ask(api)
        assert body["outcome"] == "answered" and OLD in body["answer"], body


def test_manual_uploaded_through_one_replica_reaches_the_other(replicas, log, tmp_path):
    a, b = replicas["a"], replicas["b"]
    assert OLD in _ask(b)["answer"]
    updated = tmp_path / DOC
    updated.write_text(MANUAL.format(fee=NEW), encoding="utf-8")
    with open(updated, "rb") as fh:
        resp = httpx.post(
            f"{a.url}/api/admin/ingest",
            files={"files": (DOC, fh, "text/markdown")},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=300,
        )
    ingested_at = time.monotonic()
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert [f["status"] for f in report["files"]] == ["updated"], report
    version = report["version"]

    # The replica that ran the ingest answers from the new text at once.
    body = _ask(a)
    assert NEW in body["answer"] and OLD not in body["answer"]
    assert log.get(body["query_id"]).corpus_version == version

    # The other one: old text until it sees the new version, then only the new text, never a mix.
    seen_new_after = None
    after = []
    deadline = ingested_at + 30
    while time.monotonic() < deadline and len(after) < 10:
        body = _ask(b)
        text = body["answer"] + "".join(s["snippet"] for s in body["sources"])
        if log.get(body["query_id"]).corpus_version >= version:
            assert NEW in text and OLD not in text, body
        else:
            assert OLD in text and NEW not in text, body
        if NEW in body["answer"]:
            seen_new_after = seen_new_after or time.monotonic() - ingested_at
        if seen_new_after is not None:
            after.append(body)
            time.sleep(0.1)
        else:
            time.sleep(0.05)
    assert seen_new_after is not None, "replica b never answered from the updated manual"
    assert len(after) == 10 and all(NEW in r["answer"] and OLD not in r["answer"] for r in after)
    assert httpx.get(f"{b.url}/readyz", timeout=10).json()["corpus_version"] == version
    print(f"replica b answered from the new manual {seen_new_after:.2f}s after the ingest through replica a returned")


def test_questions_through_both_replicas_land_in_one_log(replicas, log):
    asked = {
        name: _ask(api, question=f"駐輪場の申請はどこに出しますか？（{name}経由）", user_id=f"U-{name}")
        for name, api in replicas.items()
    }
    assert log.dialect == "postgresql"
    records = {r.id: r for r in log.get_many([body["query_id"] for body in asked.values()])}
    assert len(records) == 2
    for name, body in asked.items():
        record = records[body["query_id"]]
        assert record.user_id == f"U-{name}" and record.question.endswith(f"（{name}経由）")
        assert record.outcome == body["outcome"] and record.answer == body["answer"]
    # Nothing went to a local SQLite file on either replica.
    for api in replicas.values():
        data_dir = api.env["MADOGUCHI_DATA_DIR"]
        assert not os.path.exists(os.path.join(data_dir, "madoguchi.db"))


def test_two_ingests_racing_to_the_same_version_number_still_reach_every_replica(request, make_services, tmp_path):
    """Replicas ingesting at once can both write corpus version N; the record's `updated_at` still tells readers."""
    import time as clock

    chroma_url = SessionServers.of(request.config).chroma_server().url
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / DOC).write_text(MANUAL.format(fee=OLD), encoding="utf-8")
    reader = make_services(chroma_url=chroma_url, collection="race", with_log=False, data_dir=tmp_path / "replica")
    writer = make_services(chroma_url=chroma_url, collection="race", with_log=False, data_dir=tmp_path / "replica")
    assert reader.settings.collection == writer.settings.collection
    reader.ingest(paths=[docs])
    assert reader.index.snapshot.version == 1
    # The other replica's ingest read version 0 before ours was written, so it too writes version 1.
    (docs / "備品管理規程.md").write_text(
        "# 備品管理規程\n\n## 第1条\nボールペンは総務課の棚から自由に持ち出してよい。\n", encoding="utf-8"
    )
    writer.ingest(paths=[docs])
    writer.store.meta.upsert(
        ids=["corpus"],
        embeddings=[[0.0]],
        metadatas=[{"version": 1, "embedder": writer.embedder.name, "updated_at": clock.time()}],
    )
    assert writer.store.corpus_info()["version"] == 1
    assert reader.index.refresh() is True
    assert {c.doc_id for c in reader.index.snapshot.chunks} == {DOC, "備品管理規程.md"}
