"""Model profiles (`MADOGUCHI_PROFILE`): named sets of models a company can switch on, kept as data in
app/data/profiles.yaml. A profile fills the settings it names (embedder, reranker, LLM) unless the deployment set
them explicitly; it also names the Hugging Face repositories `madoguchi models fetch` downloads and the confidence
calibration that ships with it (app/ops/calibration.py)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from app.errors import ConfigError

if TYPE_CHECKING:
    from app.settings import Settings

PROFILES_FILE = Path(__file__).parent / "data" / "profiles.yaml"
# The settings a profile may fill (anything else in a profile's `settings` is refused when the file is read).
PROFILE_SETTINGS = ("embedder", "reranker", "llm", "llm_model", "llm_base_url")


@dataclass(frozen=True)
class Download:
    repo: str  # Hugging Face repository id
    kind: str  # embedder | reranker
    parameters: int = 0  # published parameter count (for the cost estimates)


@dataclass(frozen=True)
class Profile:
    name: str
    description: dict[str, str]
    settings: dict[str, str]
    downloads: tuple[Download, ...] = ()
    calibration: dict[str, Any] = field(default_factory=dict)


@lru_cache(maxsize=4)
def load_profiles(path: Path = PROFILES_FILE) -> dict[str, Profile]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    out = {}
    for name, spec in data.items():
        unknown = set(spec.get("settings", {})) - set(PROFILE_SETTINGS)
        if unknown:
            raise ConfigError(
                f"Profile {name!r} in {path} sets unknown settings: {', '.join(sorted(unknown))}.",
                f"{path} のプロファイル {name!r} に不明な設定があります: {', '.join(sorted(unknown))}",
            )
        out[name] = Profile(
            name=name,
            description=dict(spec.get("description", {})),
            settings={k: str(v) for k, v in spec.get("settings", {}).items()},
            downloads=tuple(Download(**d) for d in spec.get("downloads", [])),
            calibration=dict(spec.get("calibration", {})),
        )
    return out


def get_profile(name: str) -> Profile:
    profiles = load_profiles()
    profile = profiles.get(name)
    if profile is None:
        valid = ", ".join(profiles)
        raise ConfigError(
            f"Unknown profile {name!r}. Valid: {valid}.",
            f"不明なプロファイル {name!r} です。次のいずれかを指定してください: {valid}",
        )
    return profile


def apply_profile(settings: Settings) -> None:
    """Fill the settings the profile names, except those the deployment set explicitly (env, .env or overrides)."""
    profile = get_profile(settings.profile)
    explicit = settings.model_fields_set
    for key, value in profile.settings.items():
        if key not in explicit:
            object.__setattr__(settings, key, value)


def local_model_path(name: str, models_dir: Path | None) -> str:
    """A model named by its Hugging Face id resolves to its copy under MADOGUCHI_MODELS_DIR (as `models fetch`
    lays it out: DIR/<org>/<name>) when there is one; a path or an id without a local copy is returned unchanged."""
    if models_dir is not None and not Path(name).is_absolute():
        candidate = Path(models_dir) / name
        if candidate.is_dir():
            return str(candidate)
    return name


def with_profile(settings: Settings, name: str) -> Settings:
    """`settings` switched to profile `name` (`madoguchi eval … --profile`): the profile fills the model settings the
    deployment did not set explicitly, as at start-up."""
    profile = get_profile(name)
    explicit = settings.model_fields_set - {"profile"}
    fill = {k: v for k, v in profile.settings.items() if k not in explicit}
    for key in PROFILE_SETTINGS:  # a setting the old profile filled and the new one does not name: its default
        if key not in explicit and key not in fill:
            fill[key] = type(settings).model_fields[key].default
    return settings.model_copy(update={"profile": name, **fill})


def models_line(settings: Settings) -> str:
    """Which models ran, for evaluation output."""
    llm = "none" if settings.llm == "none" else f"{settings.llm}:{settings.llm_model}"
    return f"profile {settings.profile}: embedder {settings.embedder}, reranker {settings.reranker}, llm {llm}"


def rerank_note(outcomes: dict | None) -> str:
    """ "; reranker ok 38, timeout 2" for evaluation output: whether the reranker actually ran ("" without one)."""
    if not outcomes:
        return ""
    return "; reranker " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
