"""A throw-away store for one evaluation run: production settings, but a temporary local data dir."""

from __future__ import annotations

import contextlib
import gc
import shutil
import tempfile
from pathlib import Path

from app.settings import Settings


def temp_settings(settings: Settings, data_dir: Path) -> Settings:
    """The same retrieval settings (embedder, tokenizer, fusion, thresholds) over an embedded store in `data_dir`.

    A configured Chroma server or query-log database is never touched by an evaluation. The deployment's confidence
    calibration (app/ops/calibration.py) is kept, so eval numbers are the numbers the server would give."""
    from app.ops.calibration import calibration_path

    calibration = calibration_path(settings)
    return settings.model_copy(
        update={
            "data_dir": Path(data_dir),
            "chroma_url": None,
            "database_url": None,
            "calibration_file": calibration if calibration.exists() else settings.calibration_file,
        }
    )


@contextlib.contextmanager
def temp_services(
    settings: Settings, *, embedder=None, tokenizer=None, keep: Path | None = None, with_log: bool = False
):
    """Services over a fresh temporary store (a query log in it only `with_log`); removed afterwards unless `keep`."""
    from app.services import build_services

    tmp = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="madoguchi-eval-"))
    services = build_services(temp_settings(settings, tmp), embedder=embedder, tokenizer=tokenizer, with_log=with_log)
    try:
        yield services
    finally:
        if services.query_log is not None:
            services.query_log.close()
        del services
        gc.collect()
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
