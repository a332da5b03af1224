"""docker/ checked without a Docker engine: every setting docker/compose.yaml and docker/Dockerfile name exists in
app/settings.py, every setting the code needs is set, the commands parse with the real CLI, `.env.example` is what
docker/env_example.py generates, and the Dockerfile's warm-up and health check commands really run."""

from __future__ import annotations

import os
import re
import runpy
import shlex
import subprocess
import sys
import threading
import time
from importlib import metadata
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
COMPOSE_TEXT = (DOCKER / "compose.yaml").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
DOCKERFILE = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
ENV_EXAMPLE = runpy.run_path(str(DOCKER / "env_example.py"))
SETTING_PREFIXES = ("MADOGUCHI_", "SLACK_", "OPENAI_")
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?[-?]([^}]*))?\}")


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's `${NAME}` / `${NAME:-default}` with the given variables (defaults otherwise)."""
    env = env or {}
    return INTERPOLATION.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), str(value))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def madoguchi_services() -> dict[str, dict]:
    """The services that run this project's image (API replicas, Slack worker)."""
    return {
        name: svc
        for name, svc in COMPOSE["services"].items()
        if "build" in svc or str(svc.get("image", "")).startswith("madoguchi")
    }


def named_settings() -> set[str]:
    """Every MADOGUCHI_*/SLACK_*/OPENAI_* name docker/ mentions: environment keys and ${…} in compose, names in the Dockerfile."""
    names = set()
    for svc in COMPOSE["services"].values():
        names.update((svc.get("environment") or {}).keys())
    names.update(m.group(1) for m in INTERPOLATION.finditer(COMPOSE_TEXT))
    names.update(re.findall(r"\b(?:MADOGUCHI|SLACK|OPENAI)_[A-Z0-9_]+", DOCKERFILE))
    return {n for n in names if n.startswith(SETTING_PREFIXES)}


def unknown_settings(names: set[str]) -> set[str]:
    return {n for n in names if n.startswith(SETTING_PREFIXES) and n.upper() not in ENV_EXAMPLE["settings_env_names"]()}


# ------------------------------------------------------------------------------------------------- settings names
def test_docker_files_name_only_settings_the_code_has():
    names = named_settings()
    assert {"MADOGUCHI_CHROMA_URL", "MADOGUCHI_DATABASE_URL", "SLACK_APP_TOKEN"} <= names
    assert unknown_settings(names) == set()


def test_the_name_check_catches_a_misspelled_setting():
    assert unknown_settings({"MADOGUCHI_CHROMA_URI", "MADOGUCHI_CHROMA_URL", "SLACK_APP_TOKN"}) == {
        "MADOGUCHI_CHROMA_URI",
        "SLACK_APP_TOKN",
    }


# What the company topology depends on, pinned in every Madoguchi service's `environment:` (which wins over the
# `.env` file, so a copied .env.example cannot move them): the shared stores, the shared manuals volume, and the port
# nginx and the health check talk to. Their defaults (embedded store, SQLite, ./examples/manuals) would each run
# silently but wrongly. Settings without a default join them.
TOPOLOGY_SETTINGS = {"MADOGUCHI_CHROMA_URL", "MADOGUCHI_DATABASE_URL", "MADOGUCHI_DOCS_DIR", "MADOGUCHI_PORT"}


def required_settings() -> set[str]:
    from app.settings import Settings

    no_default = {ENV_EXAMPLE["env_names"](n, f)[0] for n, f in Settings.model_fields.items() if f.is_required()}
    return TOPOLOGY_SETTINGS | no_default


def test_the_required_settings_are_settings_of_the_code():
    required = required_settings()
    assert TOPOLOGY_SETTINGS <= required and unknown_settings(required) == set()


def test_compose_sets_every_setting_the_code_requires(monkeypatch):
    from sqlalchemy.engine import make_url

    from app.settings import Settings

    required = required_settings()
    postgres = COMPOSE["services"]["postgres"]["environment"]
    chroma_cmd = COMPOSE["services"]["chroma"]["command"]
    chroma_port = chroma_cmd[chroma_cmd.index("--port") + 1]
    services = madoguchi_services()
    assert {"api", "slack"} <= set(services)
    for name, svc in services.items():
        env = {k: interpolate(v) for k, v in (svc.get("environment") or {}).items()}
        pinned = {k for k, v in env.items() if str(v).strip()}
        assert required <= pinned, f"{name} misses required settings {required - pinned}"
        for key in list(os.environ):
            if key.startswith(SETTING_PREFIXES):
                monkeypatch.delenv(key)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = Settings(_env_file=None)  # the container's settings: they must parse
        # Shared stores: the Chroma service and the PostgreSQL service of this file.
        assert settings.chroma_url == f"http://chroma:{chroma_port}", name
        url = make_url(settings.database_url)
        assert url.get_backend_name() == "postgresql" and url.host == "postgres", name
        assert url.username == postgres["POSTGRES_USER"] and url.database == postgres["POSTGRES_DB"], name
        assert url.password == interpolate(postgres["POSTGRES_PASSWORD"]), name
        # The manuals folder the admin endpoint writes to is the shared volume.
        mounts = {interpolate(v).split(":")[1] for v in svc.get("volumes", [])}
        assert str(settings.docs_dir) in mounts, name
        assert settings.port == 8000 and "8000" in [str(p) for p in svc.get("expose", ["8000"])]


def test_socket_mode_runs_only_in_the_slack_worker():
    services = COMPOSE["services"]
    assert "slack" in services["slack"]["profiles"]
    assert services["slack"]["environment"]["SLACK_APP_TOKEN"] == "${SLACK_APP_TOKEN:-}"
    assert interpolate(services["slack"].get("deploy", {}).get("replicas", 1)) == "1"
    # Every API replica opening its own Socket Mode connection would split Slack's events between them.
    assert services["api"]["environment"]["SLACK_APP_TOKEN"] == ""


def test_env_example_is_generated_from_the_settings():
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert text == ENV_EXAMPLE["render"](), "stale .env.example: run .venv/bin/python docker/env_example.py"
    listed = set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.M))
    from app.settings import Settings

    for name, field in Settings.model_fields.items():
        assert ENV_EXAMPLE["env_names"](name, field)[0] in listed, name
    # The compose file's own variables are documented too.
    compose_vars = {m.group(1) for m in INTERPOLATION.finditer(COMPOSE_TEXT)} - set(ENV_EXAMPLE["settings_env_names"]())
    assert compose_vars <= listed, compose_vars - listed


# ------------------------------------------------------------------------------------------------------ topology
def test_compose_topology():
    services = COMPOSE["services"]
    assert int(interpolate(services["api"]["deploy"]["replicas"])) >= 2
    for name, svc in services.items():
        for dep in svc.get("depends_on", {}):
            assert dep in services, f"{name} depends on unknown service {dep}"
        for volume in svc.get("volumes", []):
            source = interpolate(volume).split(":")[0]
            if source.startswith("."):
                assert (DOCKER / source).exists(), volume
            else:
                assert source in COMPOSE["volumes"], volume
    chroma = services["chroma"]
    path = chroma["command"][chroma["command"].index("--path") + 1]
    assert any(v.endswith(f":{path}") for v in chroma["volumes"])
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    # The Chroma server is the version the tests run against (tests/servers.py starts the venv's `chroma run`).
    tag = chroma["image"].rsplit(":", 1)[1]
    assert tag.split(".")[:2] == metadata.version("chromadb").split(".")[:2]
    # The load balancer forwards to the API service's port.
    nginx = (DOCKER / "nginx.conf").read_text(encoding="utf-8")
    assert re.search(r"server\s+api:8000\b", nginx)


def test_commands_parse_with_the_real_cli():
    from app.cli import build_parser

    parser = build_parser()
    entry = [json for word, json in dockerfile_instructions() if word == "ENTRYPOINT"]
    cmd = [json for word, json in dockerfile_instructions() if word == "CMD"]
    assert entry == ['["madoguchi"]']
    default = yaml.safe_load(cmd[-1])
    assert default[:1] == ["serve"] and "0.0.0.0" in default
    commands = [default] + [svc["command"] for svc in madoguchi_services().values()]
    # The one-off ingest job documented at the top of compose.yaml.
    jobs = re.findall(r"run --rm api (.+)", COMPOSE_TEXT)
    assert jobs
    commands += [shlex.split(job) for job in jobs]
    for command in commands:
        args = parser.parse_args(command)
        assert args.command in ("serve", "ingest")


# ---------------------------------------------------------------------------------------------------- Dockerfile
def test_dockerfile_shape():
    steps = dockerfile_instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [(i, arg) for i, (word, arg) in enumerate(steps) if word == "RUN"]
    torch = [i for i, arg in runs if "torch==2.13.0" in arg]
    project = [i for i, arg in runs if re.search(r"pip install (--no-deps )?(-e )?\.(\s|$)", arg)]
    assert torch and project and torch[0] < min(project), "CPU torch must be installed before the project"
    assert "download.pytorch.org/whl/cpu" in steps[torch[0]][1], "torch must come from the CPU-only index"
    users = [arg for word, arg in steps if word == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert [i for i, (w, _) in enumerate(steps) if w == "USER"][-1] < [
        i for i, (w, _) in enumerate(steps) if w == "ENTRYPOINT"
    ][0]
    assert any(word == "HEALTHCHECK" and "/healthz" in arg for word, arg in steps)
    # What is copied exists and is let through Dockerfile.dockerignore.
    allowed = [
        line[1:].rstrip("/")
        for line in (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for word, arg in steps:
        if word == "COPY":
            *sources, _dest = arg.split()
            for source in sources:
                assert (ROOT / source).exists(), source
                assert source.rstrip("/") in allowed, f"{source} is excluded by Dockerfile.dockerignore"


def _python_c(instruction: str) -> str:
    arg = next(arg for word, arg in dockerfile_instructions() if word == instruction and "python -c" in arg)
    return shlex.split(arg[arg.index("python -c") :])[2]


@pytest.mark.slow  # loads the USE-m3 model in a subprocess
def test_the_warm_up_step_runs():
    """The build's `RUN python -c …` loads the bundled model and the dictionary; run it here with the same packages."""
    code = _python_c("RUN")
    assert "make_embedder" in code
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_the_healthcheck_passes_on_a_live_server_and_fails_without_one(make_services, tmp_path):
    import uvicorn

    from app.main import create_app
    from tests.servers import free_port

    code = _python_c("HEALTHCHECK")
    services = make_services()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services.settings, services=services), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        ok = subprocess.run(
            [sys.executable, "-c", code], env={"MADOGUCHI_PORT": str(port)}, capture_output=True, timeout=30
        )
        assert ok.returncode == 0, ok.stderr
    finally:
        server.should_exit = True
        thread.join(10)
    down = subprocess.run(
        [sys.executable, "-c", code], env={"MADOGUCHI_PORT": str(port)}, capture_output=True, timeout=30
    )
    assert down.returncode != 0
