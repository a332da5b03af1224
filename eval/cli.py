"""`madoguchi eval retrieval|qa` and `madoguchi bench` (registered into app/cli.py's parser by `register`)."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from app.settings import Settings

if TYPE_CHECKING:
    from app.retrieval.ranking import RankParams

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


def _print_json(data) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _command() -> str:
    return "madoguchi " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else ""


def rank_params(pairs: list[str] | None, base: RankParams | None = None) -> RankParams:
    """`--param depth=50 --param expand_dense=false` → a RankParams (app.retrieval.ranking) with those fields."""
    import dataclasses

    from app.errors import BadRequestError
    from app.retrieval.ranking import RankParams

    params = RankParams() if base is None else base
    fields = {f.name: f for f in dataclasses.fields(RankParams)}
    changes: dict[str, object] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        current = getattr(params, key, None) if key in fields else None
        if not sep or key not in fields:
            raise BadRequestError(
                f"--param {pair!r}: expected NAME=VALUE with NAME one of {', '.join(fields)}",
                f"--param {pair!r}: 名前=値 の形で、名前は {', '.join(fields)} のいずれかです",
            )
        if isinstance(current, bool):
            changes[key] = value.lower() in ("1", "true", "yes", "on")
        elif isinstance(current, (int, float)):
            changes[key] = type(current)(value)
        elif isinstance(current, tuple):
            changes[key] = tuple((n, float(w)) for n, w in (item.split(":") for item in value.split(",")))
        else:
            changes[key] = value
    return dataclasses.replace(params, **changes)  # type: ignore[arg-type]


def _profiled(args, settings: Settings) -> Settings:
    """`--profile NAME`: the evaluation runs that profile's models (explicit MADOGUCHI_* model settings still win)."""
    if not getattr(args, "profile", None):
        return settings
    from app.profiles import with_profile

    return with_profile(settings, args.profile)


def _params_for(settings: Settings):
    from app.answer import params_for

    return params_for(settings)


def cmd_eval_retrieval(args, settings: Settings) -> int:
    from eval.retrieval import format_retrieval, run_retrieval

    settings = _profiled(args, settings)

    run = run_retrieval(
        Path(args.dataset),
        settings=settings,
        k=args.k,
        ablation=args.ablation,
        split=args.split,
        params=rank_params(args.param, base=_params_for(settings)),
    )
    if args.report:
        from eval.report import write_retrieval_report

        path = write_retrieval_report(run, Path(args.report), command=_command())
        print(f"report: {path}", file=sys.stderr)
    if args.json:
        _print_json(run.summary)
    else:
        print(format_retrieval(run))
    return 0


def cmd_eval_qa(args, settings: Settings) -> int:
    from eval.qa import format_qa, run_qa

    settings = _profiled(args, settings)

    run = run_qa(
        docs=Path(args.docs),
        questions=Path(args.questions),
        settings=settings,
        threshold=args.threshold,
        params=rank_params(args.param, base=_params_for(settings)),
    )
    if args.report:
        from eval.report import write_qa_report

        path = write_qa_report(run, Path(args.report), command=_command())
        print(f"report: {path}", file=sys.stderr)
    if args.json:
        _print_json(run.summary)
    else:
        print(format_qa(run))
    return 0


def cmd_eval_loop(args, settings: Settings) -> int:
    from eval.loop import format_loop, run_loop

    run = run_loop(
        docs=Path(args.docs),
        questions=Path(args.questions),
        rewordings=Path(args.rewordings),
        settings=settings,
        adapt=args.adapt,
    )
    if args.json:
        _print_json({**run.summary, "meta": run.meta})
    else:
        print(format_loop(run))
    return 0


def cmd_eval_groups(args, settings: Settings) -> int:
    from eval.groups import format_groups, run_groups

    summary = run_groups(Path(args.file), settings=settings, docs=Path(args.docs) if args.docs else None)
    if args.json:
        _print_json(summary)
    else:
        print(format_groups(summary))
    return 0


def cmd_eval_adapt(args, settings: Settings) -> int:
    from eval.adapt_eval import format_adapt, run_adapt_eval

    out = run_adapt_eval(
        docs=Path(args.docs),
        questions=Path(args.questions),
        rewordings=Path(args.rewordings) if args.rewordings else None,
        settings=settings,
        threshold=args.threshold,
        params=rank_params(args.param),
    )
    if args.json:
        _print_json(out)
    else:
        print(format_adapt(out))
    return 0


def cmd_bench(args, settings: Settings) -> int:
    from eval.bench import format_bench, run_bench

    result, samples = run_bench(
        settings=settings,
        corpora=Path(args.corpora),
        eval_dir=Path(args.eval_dir),
        quick=args.quick,
        target_chunks=args.chunks,
        progress=True,  # progress goes to stderr, so --json stays clean
    )
    if args.report:
        from eval.report import write_bench_report

        path = write_bench_report(result, samples, Path(args.report), command=_command())
        print(f"report: {path}", file=sys.stderr)
    if args.json:
        _print_json(result)
    else:
        print(format_bench(result))
    return 0


def register(subparsers) -> None:
    p = subparsers.add_parser("eval", help="measure retrieval (BEIR) and answer quality (golden question sets)")
    sub = p.add_subparsers(dest="eval_command", required=True)

    r = sub.add_parser(
        "retrieval", help="nDCG/recall/MRR/hit on a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv)"
    )
    r.add_argument("dataset", help="BEIR dataset folder")
    r.add_argument("--k", type=int, default=10, help="cut-off for ndcg/recall/mrr (default 10)")
    r.add_argument("--ablation", action="store_true", help="also lexical-only and dense-only")
    r.add_argument("--split", default="test", help="qrels file name under qrels/ (default test)")
    r.add_argument("--json", action="store_true", help="print one JSON object")
    r.add_argument("--report", metavar="DIR", help="write Markdown + PNG plots into DIR")
    r.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="a ranking parameter (app.retrieval.ranking.RankParams), repeatable",
    )
    r.add_argument("--profile", help="model profile to run (offline | ja-quality | llm; default MADOGUCHI_PROFILE)")
    r.set_defaults(func=cmd_eval_retrieval)

    q = sub.add_parser("qa", help="answers and escalations on a golden question set, through the production answer()")
    q.add_argument("--docs", required=True, help="folder of documents to ingest (into a temporary store)")
    q.add_argument(
        "--questions",
        required=True,
        help="golden set, JSON Lines (id, question, answerable, source, section, answer_facts, category)",
    )
    q.add_argument(
        "--threshold", type=float, help="confidence threshold to report at (default: MADOGUCHI_CONFIDENCE_THRESHOLD)"
    )
    q.add_argument("--json", action="store_true", help="print one JSON object")
    q.add_argument("--report", metavar="DIR", help="write Markdown + PNG plots into DIR")
    q.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="a ranking parameter (app.retrieval.ranking.RankParams), repeatable",
    )
    q.add_argument("--profile", help="model profile to run (offline | ja-quality | llm; default MADOGUCHI_PROFILE)")
    q.set_defaults(func=cmd_eval_qa)

    lp = sub.add_parser(
        "loop",
        help="the improvement loop replayed: round 1 asks the questions, the staff resolve every miss with "
        "「FAQ に登録」, round 2 asks the rewordings",
    )
    lp.add_argument("--docs", required=True, help="folder of documents to ingest (into a temporary store)")
    lp.add_argument("--questions", required=True, help="golden set, JSON Lines (as for `eval qa`)")
    lp.add_argument("--rewordings", required=True, help='JSON Lines {"id", "of", "question"}: new wordings')
    lp.add_argument(
        "--adapt",
        action="store_true",
        help="the staff also cite each answer's article, and `madoguchi adapt` trains between the rounds",
    )
    lp.add_argument("--json", action="store_true", help="print one JSON object")
    lp.set_defaults(func=cmd_eval_loop)

    g = sub.add_parser("groups", help="pairwise precision/recall of the 「未解決の質問」 grouping on labeled questions")
    g.add_argument("file", help='JSON Lines {"id", "intent", "question"}, e.g. eval/training/grouping.jsonl')
    g.add_argument("--docs", help="documents whose idf weighs the key words (as the server's corpus does)")
    g.add_argument("--json", action="store_true", help="print one JSON object")
    g.set_defaults(func=cmd_eval_groups)

    a = sub.add_parser(
        "adapt",
        help="feed half the topics as staff answers with citations, run `madoguchi adapt`, report rank-1 and "
        "deflection before/after on new wordings of fed topics and on the other topics",
    )
    a.add_argument("--docs", required=True, help="folder of documents to ingest (into a temporary store)")
    a.add_argument("--questions", required=True, help="golden set, JSON Lines (answerable items with source/section)")
    a.add_argument(
        "--rewordings",
        help='JSON Lines {"id", "of", "question"} (default: each question\'s own "rewordings" list)',
    )
    a.add_argument("--threshold", type=float, help="confidence threshold (default: MADOGUCHI_CONFIDENCE_THRESHOLD)")
    a.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="a ranking parameter, repeatable; `adapter=` starts the deployment from no shipped adapter",
    )
    a.add_argument("--json", action="store_true", help="print one JSON object")
    a.set_defaults(func=cmd_eval_adapt)

    b = subparsers.add_parser(
        "bench", help="ingest / retrieval / HTTP /api/ask speed and server memory on the shared corpora"
    )
    b.add_argument("--corpora", default=str(SHARED / "corpora"), help="folder of corpora (default ../shared/corpora)")
    b.add_argument(
        "--eval-dir",
        default=str(SHARED / "eval"),
        help="golden sets whose questions are asked (default ../shared/eval)",
    )
    b.add_argument("--chunks", type=int, help="size of the synthetic corpus in chunks (default 20000; --quick 5000)")
    b.add_argument("--quick", action="store_true", help="a smaller synthetic corpus and fewer requests (a few minutes)")
    b.add_argument("--json", action="store_true", help="print one JSON object")
    b.add_argument("--report", metavar="DIR", help="write Markdown + a latency histogram into DIR")
    b.set_defaults(func=cmd_bench)
