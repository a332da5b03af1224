"""Writes `.env.example` (repository root) from `app.settings.Settings`, so the list of settings cannot drift.

    .venv/bin/python docker/env_example.py          # rewrite .env.example
    .venv/bin/python docker/env_example.py --check  # exit 1 when .env.example is stale (tests/test_deploy.py does this)

Every setting appears commented out with its default and description (a `.env` needs only what differs), followed
by the variables docker/compose.yaml itself reads.
"""

from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / ".env.example"
PREFIX = "MADOGUCHI_"

# Variables of docker/compose.yaml that are not Madoguchi settings (name → (default, description)).
COMPOSE_VARIABLES: dict[str, tuple[str, str]] = {
    "API_REPLICAS": ("2", "How many API replicas `docker compose up` starts (or `--scale api=N`)."),
    "HTTP_PORT": ("8080", "Host port of the nginx load balancer in front of the replicas."),
    "MANUALS_DIR": ("manuals", "Host folder of manuals mounted at /srv/madoguchi/manuals (default: the `manuals` volume)."),
    "POSTGRES_PASSWORD": ("madoguchi", "Password of the `madoguchi` PostgreSQL role (set it before the first start)."),
    "COMPOSE_PROFILES": ("", "`slack` also starts the Socket Mode worker (needs SLACK_APP_TOKEN and SLACK_BOT_TOKEN)."),
}


def _settings_class():
    sys.path.insert(0, str(ROOT)) if str(ROOT) not in sys.path else None
    from app.settings import Settings

    return Settings


def env_names(name: str, field) -> list[str]:
    """The environment variable names a field accepts, the preferred one first."""
    alias = field.validation_alias
    choices = getattr(alias, "choices", None)
    if choices:
        return [c for c in choices if isinstance(c, str)]
    if isinstance(alias, str):
        return [alias]
    return [PREFIX + name.upper()]


def settings_env_names() -> dict[str, str]:
    """Every environment name the settings read → the field it sets."""
    out = {}
    for name, field in _settings_class().model_fields.items():
        for env in env_names(name, field):
            out[env.upper()] = name
    return out


def _default(field) -> str:
    if field.is_required():
        return ""
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _sections(settings_cls) -> dict[str, str]:
    """Field → the `# --- section ---` comment above it in app/settings.py."""
    out: dict[str, str] = {}
    current = ""
    for line in inspect.getsource(settings_cls).splitlines():
        header = re.match(r"\s*# --- (.+?) ---", line)
        if header:
            current = header.group(1)
            continue
        field = re.match(r"\s{4}(\w+)\s*:", line)
        if field and field.group(1) in settings_cls.model_fields:
            out[field.group(1)] = current
    return out


def render() -> str:
    settings_cls = _settings_class()
    sections = _sections(settings_cls)
    lines = [
        "# Madoguchi settings. Copy to `.env` (read from the working directory, and by docker/compose.yaml) and",
        "# uncomment what you change. Generated from app/settings.py by docker/env_example.py: do not edit by hand.",
    ]
    section = None
    for name, field in settings_cls.model_fields.items():
        if sections.get(name, "") != section:
            section = sections.get(name, "")
            lines += ["", f"# ---- {section or 'other'} ----"]
        names = env_names(name, field)
        description = (field.description or "").strip()
        others = [n for n in names[1:] if n not in description]
        if others:
            description += f" (also read as {', '.join(others)})"
        if field.is_required():
            lines += [f"# {description} (required)", f"{names[0]}="]
        else:
            lines += [f"# {description}", f"# {names[0]}={_default(field)}"]
    lines += ["", "# ---- docker/compose.yaml ----"]
    for name, (default, description) in COMPOSE_VARIABLES.items():
        lines += [f"# {description}", f"# {name}={default}"]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is stale: run .venv/bin/python docker/env_example.py", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
