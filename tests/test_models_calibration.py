"""The deployment's confidence calibration (app/ops/calibration.py, `madoguchi calibrate`): the isotonic refit, the
cost rule shared with `make train`, the file the server loads at start-up and what overrides it. Fast tier: the
hashing embedder, embedded Chroma, Sudachi, the real `answer()`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.answer import answer
from app.cli import main
from app.errors import BadRequestError
from app.ops.calibration import (
    Calibration,
    calibration_path,
    fit_calibration,
    isotonic,
    load_calibration,
    models_of,
    save_calibration,
)
from app.settings import Settings
from tests.support.tiny_models import write_manuals

QUESTIONS = [
    ("有給休暇は何日もらえますか？", True, "就業規則.md", "第10条（年次有給休暇）"),
    ("有給はいつまでに申請すればいい？", True, "就業規則.md", "第10条（年次有給休暇）"),
    ("献血のときは休めますか", True, "就業規則.md", "第11条（特別休暇）"),
    ("ボーナスはいつ出ますか", True, "就業規則.md", "第12条（賞与）"),
    ("賞与の支給月は？", True, "就業規則.md", "第12条（賞与）"),
    ("出張の日当はいくら？", True, "旅費規程.md", "第5条（日当）"),
    ("日帰り出張の日当は？", True, "旅費規程.md", "第5条（日当）"),
    ("宿泊費の上限はいくらですか", True, "旅費規程.md", "第6条（宿泊費）"),
    ("ホテル代はいくらまで出ますか", True, "旅費規程.md", "第6条（宿泊費）"),
    ("社員食堂のメニューは？", False, None, None),
    ("駐車場は使えますか", False, None, None),
    ("健康診断はいつですか", False, None, None),
]


def test_isotonic_is_the_non_decreasing_least_squares_fit():
    kx, ky = isotonic(np.array([0.1, 0.2, 0.3, 0.4]), np.array([0.0, 1.0, 0.0, 1.0]))
    assert list(ky) == [0.0, 0.5, 1.0] and list(kx) == pytest.approx([0.1, 0.25, 0.4])
    kx, ky = isotonic(np.array([0.9, 0.1, 0.5]), np.array([1.0, 0.0, 1.0]))
    assert list(kx) == [0.1, 0.5, 0.9] and list(ky) == [0.0, 1.0, 1.0]


def _settings(tmp_path, **kw) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "data", embedder="hash", **kw)


def test_the_refit_keeps_the_cost_rule_and_reports_before_and_after(tmp_path):
    rng = np.random.default_rng(0)
    conf = rng.uniform(0, 1, 400)
    correct = rng.uniform(0, 1, 400) < conf**3  # the shipped confidence is over-confident here
    answerable = np.ones(400, dtype=bool)
    settings = _settings(tmp_path)
    current = load_calibration(settings)
    cal = fit_calibration(conf, correct, answerable, current=current, settings=settings, source="test")
    assert cal.threshold == 0.75  # c/(1+c), c = 3, as eval/train.py
    before, after = cal.report["before"], cal.report["after_cross_validated"]
    assert before["precision"] < 0.75 <= after["precision"]  # answered at 0.75 it was wrong too often; now it is not
    assert after["deflection"] < before["deflection"]
    assert all(a <= b for a, b in zip(cal.y, cal.y[1:]))
    assert cal.apply(0.5) < 0.5 and cal.apply(0.99) > cal.apply(0.5)
    assert cal.models == {"embedder": "hash", "reranker": "none"} and cal.questions == 400 and cal.made
    with pytest.raises(BadRequestError) as err:
        fit_calibration(conf[:5], correct[:5], answerable[:5], current=current, settings=settings, source="test")
    assert err.value.code == "too_few_questions" and "20" in err.value.detail_ja


def test_with_a_reranker_its_score_becomes_a_feature_of_the_confidence(tmp_path):
    rng = np.random.default_rng(1)
    n = 400
    conf = rng.uniform(0.3, 0.9, n)  # the shipped confidence says little here …
    rerank_z = rng.normal(0, 1, n)
    correct = rng.uniform(0, 1, n) < 1 / (1 + np.exp(-2.5 * rerank_z))  # … the reranker says a lot
    answerable = np.ones(n, dtype=bool)
    settings = _settings(tmp_path, reranker="cross-encoder:x")
    current = load_calibration(settings)
    plain = fit_calibration(conf, correct, answerable, current=current, settings=settings, source="t")
    with_rerank = fit_calibration(
        conf, correct, answerable, current=current, settings=settings, source="t", rerank_z=rerank_z
    )
    assert plain.rerank_weights == () and len(with_rerank.rerank_weights) == 3
    assert with_rerank.rerank_weights[1] > 1.0  # the fitted weight of the reranker's score
    cv_plain, cv_rerank = plain.report["after_cross_validated"], with_rerank.report["after_cross_validated"]
    assert cv_rerank["deflection"] > cv_plain["deflection"] + 0.2 and cv_rerank["precision"] >= 0.75
    assert with_rerank.apply(0.6, 2.0) > with_rerank.apply(0.6, 0.0) > with_rerank.apply(0.6, -2.0)
    assert with_rerank.apply(0.6, None) == with_rerank.apply(0.6, 0.0)  # timed out: no opinion
    assert Calibration.from_dict(json.loads(json.dumps(with_rerank.to_dict()))) == with_rerank


def test_the_server_loads_the_file_else_the_profile_default_and_a_set_threshold_wins(tmp_path, monkeypatch):
    settings = _settings(tmp_path)
    default = load_calibration(settings)
    assert (default.threshold, default.x, default.profile) == (0.75, (), "offline")
    assert "make train" in default.source and default.report["shipped"]["precision"] == 0.806
    fitted = Calibration(
        threshold=0.75,
        x=(0.0, 1.0),
        y=(0.2, 0.9),
        made="2026-12-01T00:00:00+00:00",
        questions=40,
        source="madoguchi calibrate (q.jsonl)",
        profile="offline",
        models={"embedder": "hash", "reranker": "none"},
    )
    save_calibration(fitted, calibration_path(settings))
    loaded = load_calibration(settings)
    assert loaded == fitted and loaded.matches(settings) and loaded.apply(0.5) == pytest.approx(0.55)
    assert not loaded.matches(_settings(tmp_path, reranker="cross-encoder:x"))
    monkeypatch.setenv("MADOGUCHI_CONFIDENCE_THRESHOLD", "0.6")
    overridden = load_calibration(Settings(_env_file=None, data_dir=tmp_path / "data", embedder="hash"))
    assert overridden.threshold == 0.6 and overridden.threshold_from_setting and overridden.x == fitted.x


def test_calibrate_fits_on_the_companys_questions_and_answer_uses_it(fast_services, tmp_path, monkeypatch, capsys):
    services = fast_services()
    services.ingest(paths=[write_manuals(tmp_path / "manuals")])
    questions = tmp_path / "questions.jsonl"
    with questions.open("w", encoding="utf-8") as f:
        for n, (q, ok, source, section) in enumerate(QUESTIONS * 2):
            row = {"id": f"q{n}", "question": q, "answerable": ok, "source": source, "section": section}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(services.settings.data_dir))
    monkeypatch.setenv("MADOGUCHI_EMBEDDER", "hash")
    services.query_log.close()
    assert main(["calibrate", "--questions", str(questions), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["saved"] and out["questions"] == 24 and out["threshold"] == 0.75
    assert set(out["report"]) >= {"before", "after_in_sample", "after_cross_validated"}
    stored = json.loads((services.settings.data_dir / "calibration.json").read_text(encoding="utf-8"))
    assert stored["questions"] == 24 and stored["source"] == "madoguchi calibrate (questions.jsonl)"

    again = fast_services(data_dir=services.settings.data_dir)
    assert again.calibration is not None and again.calibration.questions == 24
    raw = Calibration(threshold=0.75)
    cal = again.calibration
    for q, *_ in QUESTIONS[:4]:
        again.calibration = raw
        before = answer(question=q, services=again, record=False)
        again.calibration = cal
        after = answer(question=q, services=again, record=False)
        assert after.confidence == pytest.approx(cal.apply(before.confidence))
        assert after.outcome == ("answered" if after.confidence >= 0.75 else "escalated")

    assert main(["calibrate", "--questions", str(questions), "--dry-run"]) == 0
    text = capsys.readouterr().out
    assert "before / 校正前" in text and "not saved" in text


def test_the_dashboard_shows_the_current_calibration_and_when_it_was_made(fast_services):
    from tests.support.querylog import TOKEN, client_for
    from tests.test_console import login

    services = fast_services(admin_token=TOKEN)
    with client_for(services) as client:
        login(client)
        html = client.get("/console").text
        assert 'id="cal-threshold">0.75<' in html and "出荷時の校正（2026-12-02" in html and "cal-stale" not in html
        services.calibration = Calibration(
            threshold=0.75,
            x=(0.0, 1.0),
            y=(0.1, 0.9),
            made="2026-12-01T09:30:00+00:00",
            questions=120,
            models=models_of(services.settings),
        )
        html = client.get("/console").text
        assert "2026-12-01 09:30（UTC）に自社の質問 120 件で校正しました。" in html and "cal-stale" not in html
        services.calibration = Calibration(
            threshold=0.75,
            x=(0.0, 1.0),
            y=(0.1, 0.9),
            made="2026-12-01T09:30:00+00:00",
            questions=120,
            models={"embedder": "sentence-transformers:x", "reranker": "cross-encoder:x"},
        )
        html = client.get("/console").text
        assert 'id="cal-stale"' in html and "もう一度校正してください" in html
        client.get("/console/lang/en?next=/console")
        html = client.get("/console").text
        assert "Calibrated with other models than the ones configured now" in html and "Confidence calibration" in html
