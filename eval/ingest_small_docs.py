"""Write-path benchmark of the ingest for many one-chunk documents (issue 13 item 9).

    python -m eval.ingest_small_docs [--docs 200] [--embedder hash]

Makes N one-chunk Markdown files in a temp dir, ingests them into a fresh embedded Chroma store and prints the
documents per second. `--embedder hash` (the deterministic hashing embedder) measures the store writes only;
`--embedder use-m3` includes the model's encoding."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--embedder", default="hash", help="hash | use-m3 | …")
    parser.add_argument("--threads", type=int, default=2, help="MADOGUCHI_EMBEDDER_THREADS for a model")
    args = parser.parse_args(argv)

    from app.retrieval.embedders import HashingEmbedder, make_embedder
    from app.services import build_services
    from app.settings import get_settings

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        docs = root / "docs"
        docs.mkdir()
        for i in range(args.docs):
            (docs / f"faq-{i:05d}.md").write_text(
                f"# 質問 {i}\n\n社内の手続き {i} は総務部の窓口で受け付けます。申請書の番号は {i * 7} です。\n",
                encoding="utf-8",
            )
        settings = get_settings(data_dir=root / "data", docs_dir=docs)
        embedder = HashingEmbedder() if args.embedder == "hash" else make_embedder(args.embedder, threads=args.threads)
        services = build_services(settings, load_index=False, with_log=False, embedder=embedder)
        started = time.perf_counter()
        report = services.ingest(paths=[docs])
        seconds = time.perf_counter() - started
        counts = report.counts()
        print(
            f"{args.docs} one-chunk documents, embedder {embedder.name} ({args.threads} threads): {seconds:.2f} s, "
            f"{args.docs / seconds:.1f} documents/s ({counts})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
