"""Scoping (issue 13): the admin ingest by path takes only paths inside MADOGUCHI_DOCS_DIR (anything readable on the
server would otherwise be served to every employee); `/readyz` says nothing of paths or hosts."""

from __future__ import annotations

import json

import pytest

from tests.support.querylog import AUTH, build


@pytest.fixture
def served(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(services.settings, services=services), raise_server_exceptions=False) as client:
        yield client, services


def ingest_paths(client, paths, lang="ja"):
    return client.post(
        "/api/admin/ingest", headers={**AUTH, "Accept-Language": lang}, json={"paths": paths, "prune": False}
    )


def test_a_path_outside_the_docs_folder_is_a_bilingual_403_and_nothing_is_ingested(served, tmp_path):
    client, services = served
    secret = tmp_path / "secret.md"
    secret.write_text("# 給与一覧\n\n## 社長\n月給 999 万円。\n", encoding="utf-8")
    before = set(services.store.manifest())
    resp = ingest_paths(client, [str(secret)])
    assert resp.status_code == 403
    body = resp.json()
    assert body["error"] == "path_outside_docs_dir"
    assert "MADOGUCHI_DOCS_DIR" in body["detail_en"] and "文書フォルダ" in body["detail"]
    assert "docs folder" in ingest_paths(client, [str(secret)], lang="en").json()["detail"]
    assert set(services.store.manifest()) == before


@pytest.mark.parametrize("spelling", ["../secret.md", "{docs}/../secret.md", "/etc/hostname", "/"])
def test_traversal_and_absolute_paths_elsewhere_are_refused(served, tmp_path, spelling):
    client, services = served
    (tmp_path / "secret.md").write_text("# 秘密\n\n本文。\n", encoding="utf-8")
    resp = ingest_paths(client, [spelling.format(docs=services.settings.docs_dir)])
    assert resp.status_code == 403, resp.text


def test_a_symlink_in_the_docs_folder_pointing_outside_is_refused(served, tmp_path):
    client, services = served
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.md").write_text("# 外\n\n本文。\n", encoding="utf-8")
    (services.settings.docs_dir / "link").symlink_to(tmp_path / "outside")
    assert ingest_paths(client, [str(services.settings.docs_dir / "link")]).status_code == 403


def test_paths_inside_the_docs_folder_are_ingested_absolute_or_relative(served):
    client, services = served
    (services.settings.docs_dir / "防災規程.md").write_text(
        "# 防災規程\n\n## 第1条\n避難訓練は9月。\n", encoding="utf-8"
    )
    resp = ingest_paths(client, ["防災規程.md"])
    assert resp.status_code == 200, resp.text
    assert [(f["doc_id"], f["status"]) for f in resp.json()["files"]] == [("防災規程.md", "added")]
    whole = ingest_paths(client, [str(services.settings.docs_dir)])
    assert whole.status_code == 200 and whole.json()["failed"] == 0


def test_readyz_does_not_reveal_paths(served):
    client, services = served
    body = client.get("/readyz").json()
    assert body["status"] == "ready"
    text = json.dumps(body, ensure_ascii=False)
    assert str(services.settings.data_dir) not in text and "chroma" not in text.lower()
    assert "store" not in body


def test_a_public_error_for_an_unreachable_store_names_no_host(make_settings):
    from fastapi.testclient import TestClient

    from app.main import create_app
    from tests.conftest import free_port

    port = free_port()
    settings = make_settings(chroma_url=f"http://127.0.0.1:{port}", refresh_interval_s=60, embedder="hash")
    with TestClient(create_app(settings)) as client:
        ask = client.post("/api/ask", json={"question": "有給は？"}, headers={"Accept-Language": "en"})
        ready = client.get("/readyz")
    for resp in (ask, ready):
        assert resp.status_code == 503
        assert "127.0.0.1" not in resp.text and str(port) not in resp.text
