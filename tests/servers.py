"""Real servers for the shared-store tests: a Chroma server (`chroma run`, shipped with chromadb) and a PostgreSQL
from Debian's packages, each in a temporary directory on a free 127.0.0.1 port, plus Madoguchi API processes.

Nothing here is faked: the tests talk to the same servers a company deployment runs (docker/compose.yaml).

- `ChromaServer(path)`: `.start()`, `.stop()` (the data stays in `path`, so a restart serves the same store), `.url`.
- `PostgresServer()`: `initdb` into a fresh directory and `postgres` on a free port. PostgreSQL refuses to run as
  root, so under root (CI) the cluster belongs to an unprivileged system user (`postgres` from Debian's package,
  else `madoguchi-test`, created on first use). `.create_database(name)` → SQLAlchemy URL.
- `ApiProcess(env)`: `madoguchi serve` in a subprocess, as a replica behind a load balancer would run.
- `server_overrides(config, data_dir)`: the settings that point a test's stores at the session servers when pytest
  runs with `--stores=server` (a fresh collection prefix and a fresh database per data dir); `{}` otherwise.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
SERVER_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(
    check,
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    proc: subprocess.Popen | None = None,
    log: Path | None = None,
):
    """Call `check()` until it returns something truthy; fail with the process log when time runs out or it exits."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {proc.returncode}\n{_tail(log)}")
        try:
            got = check()
            if got:
                return got
        except Exception as exc:  # noqa: BLE001 - retried until the deadline
            last_exc = exc
        time.sleep(interval)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f}s ({last_exc})\n{_tail(log)}")


def _tail(log: Path | None, lines: int = 40) -> str:
    if log is None or not log.exists():
        return ""
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _terminate(proc: subprocess.Popen | None, *, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------------------- Chroma
class ChromaServer:
    """`chroma run --path <path> --host 127.0.0.1 --port <free>`; stop and start again on the same port and data."""

    def __init__(self, path: Path, *, port: int | None = None) -> None:
        self.path = Path(path)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log = self.path.parent / f"{self.path.name}-chroma.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> "ChromaServer":
        self.path.mkdir(parents=True, exist_ok=True)
        chroma = shutil.which("chroma", path=str(VENV_BIN)) or shutil.which("chroma")
        if chroma is None:
            raise RuntimeError("the `chroma` command (package chromadb) is not installed in the venv")
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [chroma, "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        wait_for(
            self._heartbeat,
            timeout=SERVER_TIMEOUT_S,
            what=f"Chroma server on port {self.port}",
            proc=self.proc,
            log=self.log,
        )
        return self

    def _heartbeat(self) -> bool:
        return httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200

    def stop(self) -> None:
        _terminate(self.proc)
        self.proc = None
        # The next start() reuses the port: wait until nobody listens on it any more.
        wait_for(lambda: not _port_open(self.port), timeout=10, what=f"Chroma port {self.port} to close")


# ----------------------------------------------------------------------------------------------------- PostgreSQL
def postgres_bin_dir() -> Path | None:
    """The newest Debian PostgreSQL (`/usr/lib/postgresql/<major>/bin`), or `pg_ctl`'s directory on PATH."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres") or shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def _unprivileged_user() -> pwd.struct_passwd:
    """PostgreSQL refuses to run as root: use Debian's `postgres` account, or create a system user for the tests."""
    for name in ("postgres", "madoguchi-test"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "madoguchi-test"], check=True
    )
    return pwd.getpwnam("madoguchi-test")


class PostgresServer:
    """A throw-away PostgreSQL cluster: `initdb` in a temp dir, `postgres` on a free port, trust auth on 127.0.0.1."""

    SUPERUSER = "madoguchi"

    def __init__(self) -> None:
        self.bin = postgres_bin_dir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run does it)")
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.user = _unprivileged_user() if os.geteuid() == 0 else None
        # Not under pytest's tmp dirs: those are private to root and the cluster's owner must reach its directory.
        self.root = Path(tempfile.mkdtemp(prefix="madoguchi-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        if self.user is not None:
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)

    def _as_owner(self) -> dict:
        if self.user is None:
            return {}
        return {
            "user": self.user.pw_uid,
            "group": self.user.pw_gid,
            "extra_groups": [],
            "env": {**os.environ, "HOME": str(self.root)},
        }

    def start(self) -> "PostgresServer":
        if not self.data.exists():
            subprocess.run(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    self.SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                cwd=self.root,
                **self._as_owner(),
            )
        log = open(self.log, "ab")
        if self.user is not None:
            os.chown(self.log, self.user.pw_uid, self.user.pw_gid)
        self.proc = subprocess.Popen(
            [
                str(self.bin / "postgres"),
                "-D",
                str(self.data),
                "-p",
                str(self.port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={self.root}",
                # A test cluster: durability is not what is tested here, speed is welcome.
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=300",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=self.root,
            start_new_session=True,
            **self._as_owner(),
        )
        log.close()
        wait_for(
            self._accepts,
            timeout=SERVER_TIMEOUT_S,
            what=f"PostgreSQL on port {self.port}",
            proc=self.proc,
            log=self.log,
        )
        return self

    def _accepts(self) -> bool:
        import psycopg2

        psycopg2.connect(
            host="127.0.0.1", port=self.port, user=self.SUPERUSER, dbname="postgres", connect_timeout=2
        ).close()
        return True

    def url(self, database: str) -> str:
        return f"postgresql+psycopg2://{self.SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, *, database: str = "postgres") -> None:
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.SUPERUSER, dbname=database)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def create_database(self, name: str | None = None, *, template: str | None = None) -> str:
        """A new empty database (or a copy of `template`); returns its SQLAlchemy URL."""
        name = name or f"t_{uuid.uuid4().hex[:12]}"
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)

    def stop(self) -> None:
        _terminate(self.proc, sig=signal.SIGINT)  # "fast" shutdown
        self.proc = None
        shutil.rmtree(self.root, ignore_errors=True)


# -------------------------------------------------------------------------------------------------- API processes
class ApiProcess:
    """`madoguchi serve` as a separate process (one replica). `env` holds its MADOGUCHI_* settings."""

    def __init__(self, *, env: dict[str, str], log: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.env = env
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait_ready: bool = True) -> "ApiProcess":
        return self.launch().wait(ready=wait_ready)

    def launch(self) -> "ApiProcess":
        """Start the process without waiting (start several, then `wait()` for each: they load in parallel)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MADOGUCHI_", "SLACK_", "OPENAI_"))}
        env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}, **self.env)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(VENV_BIN / "madoguchi"), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.log.parent,
                start_new_session=True,
            )
        return self

    def wait(self, *, ready: bool = True) -> "ApiProcess":
        """Until `/readyz` answers 200 (or, with ready=False, until `/healthz` does: the process is up)."""
        check = self._ready if ready else self._up
        wait_for(
            check,
            timeout=SERVER_TIMEOUT_S * 2,
            what=f"madoguchi serve on port {self.port}",
            interval=0.25,
            proc=self.proc,
            log=self.log,
        )
        return self

    def _up(self) -> bool:
        return httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200

    def _ready(self) -> bool:
        return httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kwargs.pop("timeout", 60.0), **kwargs)

    def stop(self) -> None:
        _terminate(self.proc)
        self.proc = None

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


# --------------------------------------------------------------------------------- `--stores=server` test settings
class SessionServers:
    """The Chroma server and PostgreSQL shared by one pytest session, started on first use, stopped at its end."""

    def __init__(self, config) -> None:
        self.config = config
        self.chroma: ChromaServer | None = None
        self.postgres: PostgresServer | None = None
        self.template: str | None = None
        self.tags: dict[Path, dict[str, str]] = {}
        config.add_cleanup(self.close)

    @classmethod
    def of(cls, config) -> "SessionServers":
        servers = getattr(config, "_madoguchi_servers", None)
        if servers is None:
            servers = cls(config)
            config._madoguchi_servers = servers
        return servers

    def chroma_server(self) -> ChromaServer:
        if self.chroma is None:
            self.chroma = ChromaServer(Path(tempfile.mkdtemp(prefix="madoguchi-chroma-")) / "chroma").start()
        return self.chroma

    def postgres_server(self) -> PostgresServer:
        if self.postgres is None:
            self.postgres = PostgresServer().start()
            # Every test database is a copy of one migrated to the newest schema: copying is faster than migrating.
            template_url = self.postgres.create_database("madoguchi_template")
            try:
                from app.store.querylog import QueryLog
            except ImportError:
                pass
            else:
                QueryLog(template_url).close()
            self.template = "madoguchi_template"
        return self.postgres

    def overrides(self, data_dir: Path, *, migrated: bool = True) -> dict[str, str]:
        """Chroma URL + a collection prefix and a PostgreSQL database of its own for each data dir (same dir → same
        stores). The database is a copy of the migrated template, or with `migrated=False` empty (never migrated)."""
        key = Path(data_dir).resolve()
        if key not in self.tags:
            tag = uuid.uuid4().hex[:10]
            pg = self.postgres_server()
            self.tags[key] = {
                "chroma_url": self.chroma_server().url,
                "collection": f"t{tag}",
                "database_url": pg.create_database(f"t_{tag}", template=self.template if migrated else None),
            }
        return dict(self.tags[key])

    def release(self, data_dir: Path) -> None:
        """Drop what `overrides(data_dir)` made (its database, its collections) once the test is over."""
        stores = self.tags.pop(Path(data_dir).resolve(), None)
        if stores is None or self.postgres is None or self.chroma is None:
            return
        name = stores["database_url"].rsplit("/", 1)[1]
        self.postgres.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self.chroma.running:
            client = self._chroma_client()
            for collection in client.list_collections():
                if collection.name.startswith(stores["collection"]):
                    client.delete_collection(collection.name)

    def _chroma_client(self):
        import chromadb

        return chromadb.HttpClient(
            host="127.0.0.1", port=self.chroma.port, settings=chromadb.Settings(anonymized_telemetry=False)
        )

    def close(self) -> None:
        for server in (self.chroma, self.postgres):
            if server is not None:
                server.stop()
        if self.chroma is not None:
            shutil.rmtree(self.chroma.path.parent, ignore_errors=True)
        self.chroma = self.postgres = None


def stores_mode(config) -> str:
    try:
        return config.getoption("--stores")
    except ValueError:
        return "embedded"


def server_overrides(config, data_dir: Path, overrides: dict | None = None, *, request=None) -> dict:
    """`overrides` plus, under `--stores=server`, the settings pointing a test's stores at the session's servers.

    Explicit `chroma_url` / `database_url` overrides win; an explicit `collection` keeps its name behind the
    per-data-dir prefix, so tests sharing the session's Chroma server never see each other's collections. With a
    fixture `request`, the database and collections are dropped when that fixture is torn down."""
    overrides = dict(overrides or {})
    if stores_mode(config) != "server":
        return overrides
    servers = SessionServers.of(config)
    key = Path(data_dir).resolve()
    if request is not None and key not in servers.tags:
        request.addfinalizer(lambda: servers.release(key))
    stores = servers.overrides(data_dir)
    if "collection" in overrides:
        stores["collection"] = f"{stores['collection']}-{overrides.pop('collection')}"
    return {**stores, **overrides}


STORE_FIXTURES = ("make_settings", "make_services", "sample_services")


def select_for_stores(config, items) -> None:
    """Under `--stores=server`, deselect the tests that build no store (they would only repeat the embedded run)."""
    if stores_mode(config) != "server":
        return
    keep, drop = [], []
    for item in items:
        (keep if any(f in getattr(item, "fixturenames", ()) for f in STORE_FIXTURES) else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
