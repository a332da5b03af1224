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
