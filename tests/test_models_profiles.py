"""Model profiles (app/data/profiles.yaml, MADOGUCHI_PROFILE), `models fetch` (plan, layout, manifest) and
`models check` (every configured model loads offline). The Hugging Face download is the outside world: `fetch` is
handed a download function that writes the test's own tiny models where snapshot_download would."""

from __future__ import annotations

import json
import shutil

import pytest

from app.cli import main
from app.errors import ConfigError
from app.ops.models import MANIFEST, check_models, fetch, fetch_plan
from app.profiles import load_profiles
from app.settings import Settings
from tests.support.tiny_models import make_cross_encoder, make_embedder


def test_profiles_fill_the_model_settings_unless_set_explicitly(monkeypatch):
    s = Settings(_env_file=None)
    assert (s.profile, s.embedder, s.reranker, s.llm) == ("offline", "use-m3", "none", "none")
    s = Settings(_env_file=None, profile="ja-quality")
    assert s.embedder == "sentence-transformers:cl-nagoya/ruri-v3-130m"
    assert s.reranker == "cross-encoder:hotchpotch/japanese-reranker-cross-encoder-small-v1"
    assert s.llm == "none"
    monkeypatch.setenv("MADOGUCHI_PROFILE", "llm")
    monkeypatch.setenv("MADOGUCHI_RERANKER", "none")
    s = Settings(_env_file=None)
    assert s.reranker == "none"  # the deployment's own setting wins
    assert s.llm == "ollama" and s.embedder.startswith("sentence-transformers:")


def test_an_unknown_profile_fails_listing_the_valid_ones():
    with pytest.raises(ConfigError) as err:
        Settings(_env_file=None, profile="turbo")
    assert "offline, ja-quality, llm" in err.value.detail_en and "プロファイル" in err.value.detail_ja


def test_every_profile_says_what_it_is_in_both_languages_and_ships_a_calibration():
    for profile in load_profiles().values():
        assert profile.description["en"] and profile.description["ja"]
        assert profile.calibration["threshold"] == 0.75
    assert load_profiles()["offline"].downloads == ()


def test_the_fetch_plan_lays_models_out_as_models_dir_reads_them(tmp_path):
    plan = fetch_plan("ja-quality", tmp_path)
    assert [(i.kind, i.target) for i in plan] == [
        ("embedder", tmp_path / "cl-nagoya" / "ruri-v3-130m"),
        ("reranker", tmp_path / "hotchpotch" / "japanese-reranker-cross-encoder-small-v1"),
    ]
    assert fetch_plan("offline", tmp_path) == []


@pytest.fixture(scope="module")
def tiny_hub(tmp_path_factory):
    """What the Hub would serve for ja-quality's two repositories: the test's own tiny models."""
    root = tmp_path_factory.mktemp("hub")
    return {
        "cl-nagoya/ruri-v3-130m": make_embedder(root / "embedder"),
        "hotchpotch/japanese-reranker-cross-encoder-small-v1": make_cross_encoder(root / "reranker"),
    }


@pytest.mark.slow
def test_fetched_models_load_offline_through_the_profile(tmp_path, tiny_hub):
    def download(repo, target):
        shutil.copytree(tiny_hub[repo], target, dirs_exist_ok=True)

    folder = tmp_path / "models"
    rows = fetch("ja-quality", folder, download=download, log=lambda m: None)
    assert [r["repo"] for r in rows] == list(tiny_hub) and all(r["bytes"] > 0 for r in rows)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["profile"] == "ja-quality" and len(manifest["models"]) == 2

    settings = Settings(_env_file=None, profile="ja-quality", models_dir=folder, data_dir=tmp_path / "data")
    checks = check_models(settings)
    assert [(c.kind, c.ok) for c in checks] == [("embedder", True), ("reranker", True)], checks
    assert all(c.bytes > 0 and c.parameters > 0 and c.location.startswith(str(folder)) for c in checks)

    missing = Settings(_env_file=None, profile="ja-quality", models_dir=tmp_path / "empty", data_dir=tmp_path / "d")
    failed = check_models(missing)
    assert [c.ok for c in failed] == [False, False] and all(c.error for c in failed)


@pytest.mark.slow
def test_models_check_cli_reports_each_model(tmp_path, tiny_hub, monkeypatch, capsys):
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MADOGUCHI_EMBEDDER", f"sentence-transformers:{tiny_hub['cl-nagoya/ruri-v3-130m']}")
    monkeypatch.setenv(
        "MADOGUCHI_RERANKER", f"cross-encoder:{tiny_hub['hotchpotch/japanese-reranker-cross-encoder-small-v1']}"
    )
    assert main(["models", "check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [m["kind"] for m in out["models"]] == ["embedder", "reranker"] and all(m["ok"] for m in out["models"])
    monkeypatch.setenv("MADOGUCHI_RERANKER", f"cross-encoder:{tmp_path / 'gone'}")
    assert main(["models", "check"]) == 1
    assert "[NG] reranker" in capsys.readouterr().out


@pytest.mark.slow
def test_models_check_works_on_the_offline_profile(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(tmp_path / "data"))
    assert main(["models", "check"]) == 0
    out = capsys.readouterr().out
    assert "profile offline" in out and "[ok] embedder  use-m3" in out and "MB" in out


def test_switching_profile_for_an_evaluation_keeps_explicit_settings():
    from app.profiles import models_line, with_profile

    s = Settings(_env_file=None, embedder="hash")
    ja = with_profile(s, "ja-quality")
    assert (ja.profile, ja.embedder, ja.reranker) == (
        "ja-quality",
        "hash",
        load_profiles()["ja-quality"].settings["reranker"],
    )
    back = with_profile(Settings(_env_file=None, profile="llm"), "offline")
    assert (back.embedder, back.reranker, back.llm) == ("use-m3", "none", "none")
    assert models_line(ja) == f"profile ja-quality: embedder hash, reranker {ja.reranker}, llm none"


def test_eval_qa_and_retrieval_accept_a_profile_and_say_which_models_ran(tmp_path, monkeypatch, capsys):
    from pathlib import Path

    data = Path(__file__).parent / "data"
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MADOGUCHI_EMBEDDER", "hash")
    golden = data / "golden-tiny"
    assert (
        main(
            [
                "eval",
                "qa",
                "--docs",
                str(golden / "docs"),
                "--questions",
                str(golden / "questions.jsonl"),
                "--profile",
                "offline",
            ]
        )
        == 0
    )
    assert "models: profile offline: embedder hash, reranker none, llm none" in capsys.readouterr().out
    assert main(["eval", "retrieval", str(data / "beir-tiny"), "--profile", "offline"]) == 0
    assert "models: profile offline: embedder hash, reranker none, llm none" in capsys.readouterr().out
    assert main(["eval", "retrieval", str(data / "beir-tiny"), "--profile", "nope"]) == 2
    assert "不明なプロファイル 'nope'" in capsys.readouterr().err
