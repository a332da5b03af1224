"""Shared fixtures: isolated environment, real embedder/tokenizer shared per session, real stores in tmp dirs.

Tiers (markers registered in pyproject.toml): `make test-fast` runs `-m "not slow and not browser and not server"`,
`make test` runs everything. A test is `slow` when it loads a real embedding model (the fixtures in
`HEAVY_FIXTURES`, marked here so no test has to remember it), when its module is listed in `SLOW_MODULES`, or when
it says so itself (`@pytest.mark.slow`). The fast tier still uses real parts — embedded Chroma in tmp_path, SQLite,
Sudachi, TestClient — with the deterministic hashing embedder (`fast_services`) instead of a model.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.retrieval.embedders import HashingEmbedder, make_embedder
from app.retrieval.tokenizer import Tokenizer
from app.services import build_services
from app.settings import Settings
from tests.servers import free_port, select_for_stores, server_overrides
from tests.support.querylog import build, client_for

__all__ = ["free_port"]  # imported by tests that need a free port without the fixtures

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "manuals"
SHARED = ROOT.parent / "shared"
SHARED_REASON = "../shared (corpora and eval sets) is not beside the checkout"


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
    return make_embedder("use-m3", threads=2)


@pytest.fixture(scope="session")
def tokenizer():
    return Tokenizer()


def pytest_addoption(parser):
    parser.addoption(
        "--stores",
        choices=("embedded", "server"),
        default="embedded",
        help="embedded: a Chroma dir + SQLite per test; server: a session Chroma server + PostgreSQL (tests/servers.py)",
    )


# Fixtures that load a real embedding model (USE-m3: seconds per process) or need ../shared: the `slow` tier.
HEAVY_FIXTURES = frozenset({"embedder", "make_services", "sample_services", "shared_dir", "api"})
# Modules whose tests are slow for another reason (listed here to leave those files as they are).
SLOW_MODULES = {
    "test_core_cli.py": "runs `madoguchi` in subprocesses, one of them a server",
    "test_core_embedders.py": "loads the MiniLM and USE-m3 models",
    "test_eval_cli.py": "runs the evaluation harness through the CLI",
    "test_fuzz_routes.py": "sends a table of nasty values to every route (≈ 80 s)",
    "test_ingest_crash.py": "kills ingests at every step boundary, some in real processes",
    "test_adapt.py": "trains query adapters with torch",
    "test_store_outage.py": "waits for a Chroma outage and its recovery",
    "test_replicas.py": "runs several replicas over shared stores",
}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if HEAVY_FIXTURES.intersection(getattr(item, "fixturenames", ())) or item.path.name in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
    select_for_stores(config, items)  # --stores=server runs only the tests that build stores


@pytest.fixture
def make_settings(tmp_path, request):
    """Settings for a fresh store in a temp dir (with --stores=server: on the session's servers); keyword overrides on top."""
    counter = iter(range(1000))

    def factory(**overrides):
        data = overrides.pop("data_dir", None) or tmp_path / f"data{next(counter)}"
        overrides = server_overrides(request.config, data, overrides, request=request)
        return Settings(_env_file=None, data_dir=data, docs_dir=overrides.pop("docs_dir", EXAMPLES), **overrides)

    return factory


@pytest.fixture
def fast_services(make_settings, tokenizer):
    """Real services for the fast tier: embedded Chroma and SQLite in tmp_path, Sudachi, and the deterministic
    hashing embedder (no model to load; it knows spelling, not meaning). Keyword overrides go to the settings."""

    def factory(**overrides):
        return build_services(make_settings(**overrides), embedder=HashingEmbedder(), tokenizer=tokenizer)

    return factory


@pytest.fixture
def make_services(make_settings, embedder, tokenizer):
    """Real services (Chroma in a temp dir, Sudachi, USE-m3) built from settings overrides."""

    def factory(**overrides):
        with_log = overrides.pop("with_log", True)
        return build_services(make_settings(**overrides), embedder=embedder, tokenizer=tokenizer, with_log=with_log)

    return factory


@pytest.fixture(scope="session")
def sample_services(tmp_path_factory, embedder, tokenizer, request):
    """The sample manuals of examples/manuals ingested once per session (read-only use)."""
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


@pytest.fixture
def api(make_services, tmp_path):
    """(TestClient, services) over the tiny corpus of tests/support/querylog.py, admin token set."""
    services = build(make_services, tmp_path)
    with client_for(services) as client:
        yield client, services
