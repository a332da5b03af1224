"""`madoguchi reembed` (app/ops/reembed.py): switching the embedder of an existing store. The new vectors are built
in a collection beside the live one while the old keep answering; one write of the corpus record swaps them in.
Real embedded Chroma; the hashing embedder and a tiny sentence-transformers model made in the test."""

from __future__ import annotations

import numpy as np
import pytest

from app.answer import retrieve
from app.cli import main
from app.errors import BadRequestError, ConfigError
from app.ops.reembed import reembed
from app.retrieval.embedders import HashingEmbedder, make_embedder
from app.services import build_services
from tests.support.tiny_models import make_embedder as make_tiny_embedder
from tests.support.tiny_models import write_manuals

QUESTION = "出張の日当はいくら？"


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory):
    return make_tiny_embedder(tmp_path_factory.mktemp("models") / "tiny-embedder")


@pytest.fixture
def ingested(fast_services, tmp_path):
    services = fast_services()
    services.ingest(paths=[write_manuals(tmp_path / "manuals")])
    return services


def _collections(services) -> set[str]:
    return {c.name for c in services.store.client.list_collections()}


def test_reembedding_rebuilds_the_same_texts_ingest_embedded(ingested):
    before = ingested.store.load_chunks()
    reembed(store=ingested.store, embedder=HashingEmbedder())  # the same embedder: the same vectors
    after = ingested.store.load_chunks()
    assert after.ids == before.ids
    np.testing.assert_allclose(after.embeddings, before.embeddings, atol=1e-6)
    assert [m["head_vec"] for m in after.metadatas] == [m["head_vec"] for m in before.metadatas]


@pytest.mark.slow
def test_the_old_index_answers_until_the_swap_then_the_new_one(ingested, tiny_embedder):
    index, store = ingested.index, ingested.store
    old_version, old_name = index.snapshot.version, store.default_chunks_name
    new = make_embedder(f"sentence-transformers:{tiny_embedder}")
    seen = []

    def progress(done, total):
        # Mid-way: the store still says the old embedder and collection; a refresh changes nothing; answers work.
        assert store.corpus_info()["embedder"] == "hash:256"
        assert index.refresh() is False
        seen.append((done, total, retrieve(QUESTION, services=ingested, k=3).passages[0].top.chunk.section))

    report = reembed(store=store, embedder=new, progress=progress, batch=2)
    assert seen and seen[-1][0] == seen[-1][1] == report.chunks
    assert all(s.endswith("第5条（日当）") for _, _, s in seen)
    assert report.old_collection == old_name and report.new_collection != old_name
    assert report.new_collection in _collections(ingested) and old_name not in _collections(ingested)
    info = store.corpus_info()
    assert (info["embedder"], info["chunks"], info["version"]) == (new.name, report.new_collection, old_version + 1)
    assert index.refresh() is False  # this process still encodes questions with hash:256: it keeps its snapshot
    assert {r.embedder for r in store.manifest().values()} == {new.name}
    # A server started with the new embedder serves it; one with the old is refused at start-up, pointing here.
    fresh = build_services(ingested.settings, embedder=new, tokenizer=ingested.tokenizer)
    fresh.check_embedder()
    assert fresh.index.snapshot.vectors.shape == (report.chunks, 32)  # the tiny model's dimension
    assert retrieve(QUESTION, services=fresh, k=3).passages
    stale = build_services(ingested.settings, embedder=HashingEmbedder(), tokenizer=ingested.tokenizer)
    with pytest.raises(ConfigError) as err:
        stale.check_embedder()
    assert "madoguchi reembed" in err.value.detail_en
    # Later ingests and version bumps keep writing to the swapped-in collection.
    fresh.store.bump_version(embedder=new.name)
    assert fresh.store.corpus_info()["chunks"] == report.new_collection


def test_an_ingest_during_the_reembed_cancels_the_swap(ingested):
    store = ingested.store
    before = store.corpus_info()

    def progress(done, total):
        if done == total:
            store.bump_version(embedder="hash:256")  # another writer changed the corpus meanwhile

    with pytest.raises(BadRequestError) as err:
        reembed(store=store, embedder=HashingEmbedder(64), progress=progress, batch=4)
    assert err.value.code == "reembed_conflict"
    info = store.corpus_info()
    assert info["embedder"] == "hash:256" and info.get("chunks") in (None, before.get("chunks"))
    assert _collections(ingested) == {store.default_chunks_name, f"{store.prefix}_meta"}
    assert ingested.index.refresh() and ingested.index.snapshot.vectors.shape[1] == 256


@pytest.mark.slow
def test_the_reembed_command_switches_the_store(ingested, tiny_embedder, monkeypatch, capsys):
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(ingested.settings.data_dir))
    assert main(["reembed", "--embedder", f"sentence-transformers:{tiny_embedder}", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"new_embedder": "sentence-transformers:' in out
    assert ingested.store.corpus_info()["embedder"] == f"sentence-transformers:{tiny_embedder}"


def test_a_server_with_the_old_embedder_keeps_its_snapshot_after_a_reembed_elsewhere(ingested, caplog):
    index = ingested.index
    loaded = index.snapshot
    assert index.serving_embedder == "hash:256"
    reembed(store=ingested.store, embedder=HashingEmbedder(64))  # another process switched the store
    assert index.refresh() is False and index.snapshot is loaded
    assert index.embedder_mismatch == "hash:64" and "restart it with MADOGUCHI_EMBEDDER=hash:64" in caplog.text
    assert retrieve(QUESTION, services=ingested, k=3).passages[0].top.chunk.section.endswith("第5条（日当）")
    caplog.clear()
    assert index.refresh() is False and "restart" not in caplog.text  # said once, not at every poll


def test_a_running_server_reembeds_in_the_background_answering_throughout(fast_services, tmp_path):
    """POST /api/admin/reembed: the old vectors keep answering (every /api/ask is a 200), ingests get a 409 while it
    runs, /readyz shows the progress, and at the end embedder and snapshot switch together."""
    import threading
    import time

    from tests.support.querylog import TOKEN, client_for

    services = fast_services(admin_token=TOKEN, rate_limit_per_minute=0)
    services.ingest(paths=[write_manuals(tmp_path / "manuals")])
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with client_for(services) as client:
        statuses: list[int] = []
        stop = threading.Event()

        def ask_all_the_time():
            while not stop.is_set():
                statuses.append(client.post("/api/ask", json={"question": QUESTION}).status_code)

        services.ingest_lock.acquire()  # an ingest is running: the re-embed waits for it, the old index answers
        asker = threading.Thread(target=ask_all_the_time)
        asker.start()
        try:
            r = client.post("/api/admin/reembed", json={"embedder": "hash:64"}, headers=auth)
            assert r.status_code == 202 and r.json()["state"] == "running" and r.json()["embedder"] == "hash:64"
            assert client.post("/api/admin/reembed", json={"embedder": "hash:32"}, headers=auth).status_code == 409
            again = client.post("/api/admin/ingest", headers=auth)  # re-ingest the configured folder
            assert again.status_code == 409 and again.json()["error"] == "reembed_running"
            ready = client.get("/readyz").json()
            assert ready["status"] == "ready" and ready["reembed"]["state"] == "running"
            time.sleep(0.2)
        except BaseException:
            stop.set()  # a failing assertion must not leave the asker running (the client would never close)
            raise
        finally:
            services.ingest_lock.release()
        for _ in range(200):
            if client.get("/api/admin/reembed", headers=auth).json()["state"] != "running":
                break
            time.sleep(0.05)
        time.sleep(0.2)
        stop.set()
        asker.join()
        job = client.get("/api/admin/reembed", headers=auth).json()
        assert job["state"] == "done" and job["done"] == job["total"] > 0, job
        assert statuses and set(statuses) == {200}, statuses
        assert services.embedder.name == "hash:64" and services.index.snapshot.vectors.shape[1] == 64
        assert services.store.corpus_info()["embedder"] == "hash:64"
        assert (
            client.post("/api/ask", json={"question": QUESTION})
            .json()["sources"][0]["section"]
            .endswith("第5条（日当）")
        )
        assert client.get("/readyz").json()["reembed"]["state"] == "done"
        bad = client.post("/api/admin/reembed", json={"embedder": "nope"}, headers=auth)
        assert bad.status_code == 422 and bad.json()["error"] == "bad_embedder"
        assert client.post("/api/admin/reembed", json={"embedder": ""}, headers=auth).status_code == 422
        assert client.post("/api/admin/reembed", json={"embedder": "hash:32"}).status_code in (401, 403)


@pytest.mark.slow
def test_the_reembed_command_goes_through_the_running_server(tmp_path):
    """`madoguchi reembed` while a server holds the data dir: the server re-embeds in its background, the command
    follows the progress, and the server answers throughout and afterwards with the new embedder."""
    import json

    from tests.servers import ApiProcess
    from tests.test_core_cli import cli

    data = tmp_path / "data"
    manuals = write_manuals(tmp_path / "manuals")
    api = ApiProcess(
        env={"MADOGUCHI_DATA_DIR": str(data), "MADOGUCHI_DOCS_DIR": str(manuals), "MADOGUCHI_EMBEDDER": "hash"},
        log=tmp_path / "serve.log",
    )
    api.start()
    try:
        assert cli(data, "ingest", str(manuals)).code == 0
        run = cli(data, "reembed", "--embedder", "hash:64", "--json")
        assert run.code == 0, run.err
        assert "re-embedding in its background" in run.err
        job = json.loads(run.out)
        assert job["state"] == "done" and job["embedder"] == "hash:64" and job["done"] == job["total"] > 0
        with api.client() as http:
            body = http.post("/api/ask", json={"question": QUESTION}).json()
            assert body["sources"][0]["section"].endswith("第5条（日当）")
            assert http.get("/readyz").json()["reembed"]["state"] == "done"
        same = cli(data, "reembed", "--embedder", "hash:64")
        assert same.code == 2 and "すでに" in same.err
    finally:
        api.stop()


def test_starting_a_reembed_is_admin_only_and_audited(fast_services, tmp_path):
    import time

    from app.store.audit import AuditFilter
    from tests.support.querylog import TOKEN, client_for

    services = fast_services(admin_token=TOKEN)
    services.ingest(paths=[write_manuals(tmp_path / "manuals")])
    with client_for(services) as client:
        r = client.post(
            "/api/admin/reembed", json={"embedder": "hash:64"}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        assert r.status_code == 202
        for _ in range(200):
            if services.reembed_job.state != "running":
                break
            time.sleep(0.05)
    assert services.reembed_job.state == "done"
    (entry,) = services.query_log.audit.search(AuditFilter(action="store.reembed"))
    assert (entry.actor, entry.before, entry.after) == (
        "admin-token",
        {"embedder": "hash:256"},
        {"embedder": "hash:64"},
    )
