"""Shared fixtures: isolated environment, real embedder/tokenizer shared per session, real stores in tmp dirs."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "manuals"
SHARED = ROOT.parent / "shared"
SHARED_REASON = "../shared (corpora and eval sets) is not beside the checkout"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch, tmp_path):
    """No MADOGUCHI_* / SLACK_* / OPENAI_* variable from the developer's shell leaks in; no `.env` is read."""
    for key in list(os.environ):
        if key.startswith(("MADOGUCHI_", "SLACK_", "OPENAI_")):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder():
    from app.retrieval.embedders import make_embedder

    return make_embedder("use-m3", threads=2)


@pytest.fixture(scope="session")
def tokenizer():
    from app.retrieval.tokenizer import Tokenizer

    return Tokenizer()


def pytest_addoption(parser):
    parser.addoption("--stores", choices=("embedded", "server"), default="embedded",
                     help="embedded: a Chroma dir + SQLite per test; server: a session Chroma server + PostgreSQL (tests/servers.py)")


def pytest_collection_modifyitems(config, items):
    from tests.servers import select_for_stores

    select_for_stores(config, items)  # --stores=server runs only the tests that build stores


@pytest.fixture
def make_settings(tmp_path, request):
    """Settings for a fresh store in a temp dir (with --stores=server: on the session's servers); keyword overrides on top."""
    from app.settings import Settings
    from tests.servers import server_overrides

    counter = iter(range(1000))

    def factory(**overrides):
        data = overrides.pop("data_dir", None) or tmp_path / f"data{next(counter)}"
        overrides = server_overrides(request.config, data, overrides, request=request)
        return Settings(_env_file=None, data_dir=data, docs_dir=overrides.pop("docs_dir", EXAMPLES), **overrides)

    return factory


@pytest.fixture
def make_services(make_settings, embedder, tokenizer):
    """Real services (Chroma in a temp dir, Sudachi, USE-m3) built from settings overrides."""
    from app.services import build_services

    def factory(**overrides):
        with_log = overrides.pop("with_log", True)
        return build_services(make_settings(**overrides), embedder=embedder, tokenizer=tokenizer, with_log=with_log)

    return factory


@pytest.fixture(scope="session")
def sample_services(tmp_path_factory, embedder, tokenizer, request):
    """The sample manuals of examples/manuals ingested once per session (read-only use)."""
    from app.services import build_services
    from app.settings import Settings
    from tests.servers import server_overrides

    if not EXAMPLES.exists():
        pytest.skip("examples/manuals is missing")
    data = tmp_path_factory.mktemp("sample")
    settings = Settings(_env_file=None, data_dir=data, docs_dir=EXAMPLES, **server_overrides(request.config, data))
    services = build_services(settings, embedder=embedder, tokenizer=tokenizer, with_log=False)
    services.ingest(paths=[EXAMPLES])
    return services


@pytest.fixture(scope="session")
def shared_dir():
    if not (SHARED / "corpora").exists():
        pytest.skip(SHARED_REASON)
    return SHARED
