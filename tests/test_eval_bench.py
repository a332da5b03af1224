"""The cheap parts of `madoguchi bench` (the benchmark itself is `make bench`, never part of `make test`)."""

from __future__ import annotations

from pathlib import Path

from eval.bench import check_targets, format_bench
from eval.loadtest import question_variant
from eval.synthetic import make_synthetic_corpus, perturb

GOLDEN_DOCS = Path(__file__).resolve().parent / "data" / "golden-tiny" / "docs"


def test_question_variants_are_distinct_and_keep_the_question():
    qs = ["有給休暇は入社後いつから取れますか？", "How do I request overtime?"]
    variants = [question_variant(qs, i) for i in range(2 * 8 * 3 * 2)]
    assert len(set(variants)) == len(variants)
    assert all(qs[i % 2] in v for i, v in enumerate(variants))
    assert variants[0] == qs[0] and variants[1] == qs[1]


def test_perturb_shifts_digits_and_tags_headings_but_keeps_front_matter():
    text = "---\ntitle: Leave 2024\n---\n# Leave\n\nYou get 13 days.\n"
    out = perturb(text, 1, japanese=False)
    assert out.startswith("---\ntitle: Leave 2024\n---\n")
    assert "# Leave (Sales edition)" in out
    assert "You get 24 days." in out
    assert perturb("### 第5条 日当\n2,000円", 2, japanese=True) == "### 第7条 日当 開発部版\n4,222円"


def test_synthetic_corpus_reaches_the_target(tmp_path):
    folder = GOLDEN_DOCS
    chunks = {
        f"{folder.name}/01_就業規則.md": 4,
        f"{folder.name}/02_出張旅費規程.md": 3,
        f"{folder.name}/equipment.md": 2,
    }
    made = make_synthetic_corpus(folders=[folder], out=tmp_path, file_chunks=chunks, target_chunks=20)
    assert made["estimated_chunks"] >= 20 and made["copies"] == 3
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.md"))
    assert len(files) == made["files"]
    original = (folder / "02_出張旅費規程.md").read_text(encoding="utf-8")
    assert (tmp_path / "copy000" / "docs" / "02_出張旅費規程.md").read_text(encoding="utf-8") == original
    assert (tmp_path / "copy001" / "docs" / "02_出張旅費規程.md").read_text(encoding="utf-8") != original


def test_targets_and_text_report():
    result = {
        "machine": {"cpus": 2, "memory_gib": 24, "python": "3.11", "platform": "linux"},
        "embedder": "use-m3",
        "quick": False,
        "ingest": {
            "files": 2,
            "failed": 0,
            "chars": 60000,
            "chunks": 100,
            "seconds": 1.5,
            "chars_per_s": 40000,
            "chunks_per_s": 66.7,
        },
        "reingest_unchanged_s": 2.5,
        "reingest_counts": {"unchanged": 2},
        "ask": {
            "chunks": 100,
            "startup_s": 1.0,
            "peak_rss_mb": 900.0,
            "rss_after_mb": 850.0,
            "levels": {
                "16": {
                    "requests": 10,
                    "errors": {},
                    "seconds": 1.0,
                    "throughput_rps": 10.0,
                    "mean_ms": 20.0,
                    "p50_ms": 12.0,
                    "p95_ms": 70.0,
                    "p99_ms": 80.0,
                }
            },
        },
    }
    t = check_targets(result)
    assert t["ingest_chars_per_s"]["met"] is True
    assert t["reingest_unchanged_s"]["met"] is False
    assert t["ask_p50_ms_16"]["met"] is True and t["ask_p99_ms_16"]["met"] is False
    assert t["server_peak_rss_mb"]["met"] is True
    result["targets"] = t
    text = format_bench(result)
    assert "ask_p99_ms_16: 80.0 (target ≤ 60) MISSED" in text
    assert "40,000 chars/s" in text
