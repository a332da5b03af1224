"""`--report DIR`: Markdown plus PNG plots (matplotlib, Agg backend) for eval qa, eval retrieval and bench."""

from __future__ import annotations

import re
from pathlib import Path

from eval.metrics import mean, percentile


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", Path(text).stem).strip("-") or "run"


def _fmt(v, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return out


def _latency_hist(path: Path, series: dict[str, list[float]], title: str) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in series.items():
        if values:
            ax.hist(values, bins=30, alpha=0.6, label=f"{label} (p50 {percentile(values, 50):.1f} ms)")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("requests")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ---------- eval qa ----------

QA_KEYS = ("hit@1", "hit@3", "answer_precision", "deflection_rate", "escalation_recall", "facts_recall")


def write_qa_report(run, out_dir: Path, *, command: str = "") -> Path:
    """qa-<set>.md with qa-<set>-sweep.png, qa-<set>-latency.png, qa-<set>-categories.png."""
    plt = _plt()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    s, m = run.summary, run.meta
    name = "qa-" + _slug(m["questions_file"])

    rows = [r for r in s["sweep"] if r["answer_precision"] is not None]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(
        [r["deflection_rate"] for r in rows],
        [r["answer_precision"] for r in rows],
        marker=".",
        label="precision vs deflection",
    )
    for r in rows:
        if round(r["threshold"] * 100) % 10 == 0:
            ax.annotate(f"{r['threshold']:.1f}", (r["deflection_rate"], r["answer_precision"]), fontsize=7)
    ax.axhline(0.90, color="grey", linestyle="--", linewidth=0.8)
    op = [r for r in s["sweep"] if abs(r["threshold"] - s["threshold"]) < 1e-9]
    if op and op[0]["answer_precision"] is not None:
        ax.plot(
            [op[0]["deflection_rate"]],
            [op[0]["answer_precision"]],
            "r*",
            markersize=12,
            label=f"threshold {s['threshold']:.2f}",
        )
    ax.set_xlabel("deflection rate (answerable answered correctly)")
    ax.set_ylabel("answer precision")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"{name}: threshold sweep (labels = threshold)")
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(out_dir / f"{name}-sweep.png", dpi=110)
    plt.close(fig)

    _latency_hist(
        out_dir / f"{name}-latency.png", {"answer()": [i.latency_ms for i in run.items]}, f"{name}: answer latency"
    )

    cats = list(s["per_category"])
    fig, ax = plt.subplots(figsize=(7, 4.4))
    width = 0.8 / len(QA_KEYS)
    for j, key in enumerate(QA_KEYS):
        vals = [s["per_category"][c][key] or 0.0 for c in cats]
        ax.bar([x + j * width for x in range(len(cats))], vals, width, label=key)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(cats))])
    ax.set_xticklabels([f"{c}\n(n={s['per_category'][c]['questions']})" for c in cats], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{name}: per category at threshold {s['threshold']:.2f}")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    fig.tight_layout()
    fig.savefig(out_dir / f"{name}-categories.png", dpi=110)
    plt.close(fig)

    lines = [f"# {name}", ""]
    if command:
        lines += [f"`{command}`", ""]
    lines += [
        f"{s['questions']} questions ({s['answerable']} answerable) over `{m['docs']}` — {m['chunks']} chunks, "
        f"{m['mode']}, embedder {m['embedder']}, threshold {s['threshold']:.2f}.",
        "",
    ]
    lines += _table(list(QA_KEYS), [[_fmt(s[k]) for k in QA_KEYS]])
    lines += [
        "",
        f"Answer latency: mean {s['latency_mean_ms']:.1f} ms, p95 {s['latency_p95_ms']:.1f} ms. "
        f"Recommended threshold (lowest with answer_precision ≥ 0.90 there and at every higher threshold answering "
        f"≥ 5 questions): {s['recommended_threshold']}.",
        "",
    ]
    lines += ["## Per category", ""]
    lines += _table(
        ["category", "n"] + list(QA_KEYS),
        [[c, v["questions"]] + [_fmt(v[k]) for k in QA_KEYS] for c, v in s["per_category"].items()],
    )
    lines += [
        "",
        f"![per category]({name}-categories.png)",
        "",
        "## Threshold sweep",
        "",
        f"![precision vs deflection]({name}-sweep.png)",
        "",
    ]
    lines += _table(
        ["threshold", "answer_precision", "deflection_rate", "escalation_recall", "answered"],
        [
            [
                f"{r['threshold']:.2f}",
                _fmt(r["answer_precision"]),
                _fmt(r["deflection_rate"]),
                _fmt(r["escalation_recall"]),
                r["answered"],
            ]
            for r in s["sweep"]
            if round(r["threshold"] * 100) % 5 == 0
        ],
    )
    lines += [
        "",
        f"![latency]({name}-latency.png)",
        "",
        f"## Failures at threshold {s['threshold']:.2f} ({len(s['failures'])})",
        "",
    ]
    lines += _table(
        ["id", "reason", "conf", "question", "expected", "cited (top 3)"],
        [
            [
                f["id"],
                f["reason"],
                f"{f['confidence']:.3f}",
                _cell(f["question"]),
                _cell(f"{f['expected']['source']} {', '.join(f['expected']['section'])}" if f["expected"] else "—"),
                _cell("; ".join(f"{c['source']} › {c['section'].split(' > ')[-1]}" for c in f["cited"])),
            ]
            for f in s["failures"]
        ],
    )
    path = out_dir / f"{name}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


# ---------- eval retrieval ----------


def write_retrieval_report(run, out_dir: Path, *, command: str = "") -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    s, m = run.summary, run.meta
    k = m["k"]
    name = "retrieval-" + _slug(m["dataset"])
    _latency_hist(out_dir / f"{name}-latency.png", run.latencies, f"{name}: retrieval latency")
    keys = [f"ndcg@{k}", f"recall@{k}", f"mrr@{k}", "hit@1", "hit@5"]
    modes = [("hybrid", s)] + list(s.get("ablation", {}).items())
    lines = [f"# {name}", ""]
    if command:
        lines += [f"`{command}`", ""]
    lines += [f"{m['documents']} documents ({m['chunks']} chunks), {s['queries']} queries.", ""]
    lines += _table(
        ["mode"] + keys + ["latency mean ms", "latency p95 ms"],
        [
            [mode] + [_fmt(v[key]) for key in keys] + [_fmt(v["latency_mean_ms"], 1), _fmt(v["latency_p95_ms"], 1)]
            for mode, v in modes
        ],
    )
    lines += ["", f"![latency]({name}-latency.png)", ""]
    path = out_dir / f"{name}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------- bench ----------


def write_bench_report(result: dict, samples: dict[str, list[float]], out_dir: Path, *, command: str = "") -> Path:
    from eval.bench import format_bench

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if samples:
        _latency_hist(out_dir / "bench-ask-latency.png", samples, "/api/ask latency by concurrent clients")
    lines = ["# Benchmarks", ""]
    if command:
        lines += [f"`{command}`", ""]
    lines += ["```", format_bench(result), "```", ""]
    if samples:
        lines += ["![ask latency](bench-ask-latency.png)", ""]
        lines += _table(
            ["clients", "mean ms", "p50 ms", "p99 ms"],
            [
                [label, _fmt(mean(v), 1), _fmt(percentile(v, 50), 1), _fmt(percentile(v, 99), 1)]
                for label, v in samples.items()
            ],
        )
    path = out_dir / "bench.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
