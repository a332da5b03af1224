"""Staff accounts (issue 12 part 1, issue 13's login items): `madoguchi users`, personal API tokens, console login by
name and password, server-side sessions revoked by logout / password change / disable, roles, login throttling
shared through the database, the admin-token length check, and the migration of an existing database.
Fast tier: the hashing embedder, embedded Chroma and SQLite in tmp_path, the real app through TestClient."""

from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa

from app import cli
from app.errors import BadRequestError, ConfigError, RateLimitedError
from app.main import create_app
from app.ops import accounts, login_throttle
from app.store.querylog import QueryLog
from tests.conftest import ROOT
from tests.support.migrations import head_revision
from tests.support.querylog import AUTH, TOKEN, build, client_for

PW_A = "correct horse battery"
PW_B = "staple-staple-staple"


@pytest.fixture
def app_client(fast_services, tmp_path):
    services = build(fast_services, tmp_path)
    with client_for(services) as client:
        client.services = services
        yield client


def console_login(client, name: str, password: str, *, follow: bool = False):
    page = client.get("/console/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post(
        "/console/login",
        data={"csrf": csrf, "name": name, "token": password, "next": "/console"},
        follow_redirects=follow,
    )


def csrf_of(client, path="/console/faq"):
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def run_cli(monkeypatch, capsys, settings, argv, stdin=""):
    monkeypatch.setenv("MADOGUCHI_DATA_DIR", str(settings.data_dir))
    if settings.database_url:  # --stores=server: the session's PostgreSQL
        monkeypatch.setenv("MADOGUCHI_DATABASE_URL", settings.database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    code = cli.main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_users_add_token_disable_and_the_token_acts_as_the_person(app_client, monkeypatch, capsys):
    settings = app_client.services.settings
    code, out, _ = run_cli(
        monkeypatch, capsys, settings, ["users", "add", "sato", "--role", "admin", "--password-stdin"], PW_A + "\n"
    )
    assert code == 0 and "sato" in out
    code, out, err = run_cli(monkeypatch, capsys, settings, ["users", "token", "sato"])
    token = out.strip()
    assert code == 0 and token.startswith("mdg_") and "今回だけ" in err and "once" in err
    # hashed at rest: the token itself is nowhere in the database
    with app_client.services.query_log.read() as conn:
        stored = [r[0] for r in conn.execute(sa.text("SELECT id FROM api_tokens"))]
    assert stored and token not in stored and all(len(s) == 64 for s in stored)

    bearer = {"Authorization": f"Bearer {token}"}
    r = app_client.post(
        "/api/admin/faq",
        json={"question": "名刺の発注方法は", "answer": "総務ポータルから申請します。"},
        headers=bearer,
    )
    assert r.status_code == 201, r.text
    assert app_client.get("/api/admin/documents", headers=bearer).status_code == 200  # an admin account
    items = app_client.get("/api/admin/audit", headers=AUTH, params={"action": "faq.create"}).json()["items"]
    assert [(i["actor"], i["target_id"]) for i in items] == [("sato", str(r.json()["id"]))]
    assert (
        app_client.get("/api/admin/audit", params={"action": "user.add"}, headers=AUTH).json()["items"][0]["actor"]
        == "cli"
    )

    code, out, _ = run_cli(monkeypatch, capsys, settings, ["users", "list"])
    assert "sato\tadmin\tactive" in out
    assert run_cli(monkeypatch, capsys, settings, ["users", "disable", "sato"])[0] == 0
    r = app_client.get("/api/admin/faq", headers=bearer)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"


def test_cli_refuses_a_short_password_and_an_unknown_role(app_client, monkeypatch, capsys):
    settings = app_client.services.settings
    code, _, err = run_cli(monkeypatch, capsys, settings, ["users", "add", "kato", "--password-stdin"], "short\n")
    assert code == 2 and "12" in err and "パスワード" in err
    with pytest.raises(SystemExit):
        run_cli(monkeypatch, capsys, settings, ["users", "add", "kato", "--role", "root", "--password-stdin"], PW_A)
    assert accounts.list_users(app_client.services.query_log) == []


def test_short_admin_token_is_refused_at_start_up(make_settings):
    with pytest.raises(ConfigError) as info:
        create_app(make_settings(admin_token="short-token"))
    assert info.value.code == "admin_token_too_short" and "16" in info.value.detail_ja


def test_console_login_by_name_roles_and_logout_revokes_the_cookie(app_client):
    log = app_client.services.query_log
    accounts.add_user(log, name="yamada", role="staff", password=PW_A, actor="test")
    accounts.add_user(log, name="boss", role="admin", password=PW_B, actor="test")

    assert console_login(app_client, "yamada", "wrong password!").headers["location"].startswith("/console/login?bad=1")
    r = console_login(app_client, "yamada", PW_A)
    assert r.status_code == 303 and r.headers["location"] == "/console"
    page = app_client.get("/console")
    assert "yamada でログイン中" in page.text
    assert 'href="/console/documents"' not in page.text and 'href="/console/users"' not in page.text
    for path in ("/console/faq", "/console/gaps", "/console/queries", "/console/glossary", "/console/audit"):
        assert app_client.get(path).status_code == 200, path
    for path in ("/console/documents", "/console/users"):
        r = app_client.get(path)
        assert r.status_code == 403 and "管理者専用" in r.text, path
    r = app_client.post(
        "/console/users", data={"csrf": csrf_of(app_client), "name": "x1", "role": "admin", "password": PW_A}
    )
    assert r.status_code == 403 and [u.name for u in accounts.list_users(log)] == ["boss", "yamada"]

    old = app_client.cookies.get("madoguchi_console")
    app_client.post("/console/logout", data={"csrf": csrf_of(app_client)})
    app_client.cookies.set("madoguchi_console", old, path="/console")  # an old copy of the cookie
    r = app_client.get("/console/faq", follow_redirects=False)
    assert r.status_code == 303 and "/console/login" in r.headers["location"]

    app_client.cookies.clear()
    console_login(app_client, "boss", PW_B)
    page = app_client.get("/console")
    assert 'href="/console/documents"' in page.text and 'href="/console/users"' in page.text
    assert app_client.get("/console/documents").status_code == 200


def test_staff_token_is_refused_on_admin_only_routes(app_client):
    log = app_client.services.query_log
    accounts.add_user(log, name="ito", role="staff", password=PW_A, actor="test")
    bearer = {"Authorization": f"Bearer {accounts.new_token(log, 'ito', actor='test')}"}
    assert app_client.get("/api/admin/faq", headers=bearer).status_code == 200
    r = app_client.get("/api/admin/documents", headers=bearer)
    assert r.status_code == 403 and r.json()["error"] == "forbidden" and "管理者" in r.json()["detail"]
    assert app_client.post("/api/admin/ingest", headers=bearer).status_code == 403
    r = app_client.get("/api/admin/faq", headers={"Authorization": "Bearer mdg_not-a-real-token"})
    assert r.status_code == 401


def test_admin_page_adds_resets_and_disables_and_sessions_end_at_once(app_client, fast_services, tmp_path):
    console_login(app_client, "", TOKEN)  # first setup: the shared admin token, no name
    r = app_client.post(
        "/console/users", data={"csrf": csrf_of(app_client), "name": "suzuki", "role": "staff", "password": PW_A}
    )
    assert r.status_code == 200 and "アカウントを追加しました" in r.text
    r = app_client.post(
        "/console/users", data={"csrf": csrf_of(app_client), "name": "tanaka", "role": "staff", "password": "too short"}
    )
    assert r.status_code == 422 and "12 文字以上" in r.text

    # suzuki signs in from another browser (its own cookie jar)
    other = app_client.__class__(app_client.app)  # its own cookie jar; the app is already started
    console_login(other, "suzuki", PW_A)
    assert other.get("/console/faq", follow_redirects=False).status_code == 200
    # the admin resets suzuki's password: suzuki's session ends at once
    app_client.post("/console/users/suzuki/password", data={"csrf": csrf_of(app_client), "password": PW_B})
    assert other.get("/console/faq", follow_redirects=False).status_code == 303
    assert "/console/login?bad=1" in console_login(other, "suzuki", PW_A).headers["location"]
    console_login(other, "suzuki", PW_B)
    assert other.get("/console/faq", follow_redirects=False).status_code == 200
    # disabled: the session ends at once and the password no longer works
    app_client.post("/console/users/suzuki/disable", data={"csrf": csrf_of(app_client)})
    assert other.get("/console/faq", follow_redirects=False).status_code == 303
    assert "/console/login?bad=1" in console_login(other, "suzuki", PW_B).headers["location"]
    actions = [i["action"] for i in app_client.get("/api/admin/audit", headers=AUTH).json()["items"]]
    assert actions == ["user.disable", "user.password", "user.add"]
    assert {i["actor"] for i in app_client.get("/api/admin/audit", headers=AUTH).json()["items"]} == {"admin-token"}


def test_login_is_throttled_per_account_and_the_count_lives_in_the_database(app_client):
    services = app_client.services
    accounts.add_user(services.query_log, name="mori", role="staff", password=PW_A, actor="test")
    for _ in range(5):
        assert "bad=1" in console_login(app_client, "mori", "wrong wrong wrong").headers["location"]
    r = console_login(app_client, "mori", PW_A)  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    assert "しばらくログインできません" in r.text and "分" in r.text
    # another account from the same address is not locked by mori's failures (per-IP limit is higher)
    accounts.add_user(services.query_log, name="abe", role="staff", password=PW_B, actor="test")
    assert console_login(app_client, "abe", PW_B).headers["location"] == "/console"
    # another replica (its own connection to the same database) sees the same failures
    replica = QueryLog(services.settings.sqlalchemy_url)
    try:
        with pytest.raises(RateLimitedError):
            login_throttle.check(replica, services.settings, name="mori", ip="10.0.0.9")
    finally:
        replica.close()


def test_login_is_throttled_per_address(fast_services, tmp_path):
    services = build(fast_services, tmp_path, login_max_failures_per_ip=3)
    accounts.add_user(services.query_log, name="ueda", role="staff", password=PW_A, actor="test")
    with client_for(services) as client:
        for name in ("a1", "a2", "a3"):
            console_login(client, name, "wrong wrong wrong")
        r = console_login(client, "ueda", PW_A)
        assert r.status_code == 429


def test_existing_database_upgrades_to_the_accounts_schema(tmp_path):
    from alembic import command
    from alembic.config import Config

    from app.store.querylog import MIGRATIONS

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(
            sa.text(
                "INSERT INTO faq_entries (question, answer, category, created_at, updated_at) VALUES ('q', 'a', 'other', '2026-01-01', '2026-01-01')"
            )
        )
    engine.dispose()
    log = QueryLog(url)
    try:
        assert log.schema_revision() == head_revision()
        assert [e.question for e in log.faq.list()] == ["q"]
        accounts.add_user(log, name="nakamura", role="admin", password=PW_A, actor="test")
        assert accounts.verify_password(log, "nakamura", PW_A) is not None
        assert accounts.verify_password(log, "nakamura", PW_B) is None
    finally:
        log.close()


def test_a_person_changes_their_own_password_and_their_sessions_end(app_client):
    accounts.add_user(app_client.services.query_log, name="honda", role="staff", password=PW_A, actor="test")
    console_login(app_client, "honda", PW_A)
    page = app_client.get("/console/account")
    assert page.status_code == 200 and "パスワードを変更" in page.text
    csrf = csrf_of(app_client, "/console/account")
    r = app_client.post(
        "/console/account/password",
        data={"csrf": csrf, "current": "not my password", "password": PW_B, "password2": PW_B},
    )
    assert r.status_code == 401 and "現在のパスワードが正しくありません" in r.text
    r = app_client.post(
        "/console/account/password", data={"csrf": csrf, "current": PW_A, "password": PW_B, "password2": PW_B + "x"}
    )
    assert r.status_code == 422 and "一致しません" in r.text
    r = app_client.post(
        "/console/account/password",
        data={"csrf": csrf, "current": PW_A, "password": PW_B, "password2": PW_B},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/console/login?done=password_changed"
    assert app_client.get("/console/faq", follow_redirects=False).status_code == 303  # this session ended too
    assert "新しいパスワードでログインしてください" in app_client.get("/console/login?done=password_changed").text
    assert "bad=1" in console_login(app_client, "honda", PW_A).headers["location"]
    assert console_login(app_client, "honda", PW_B).headers["location"] == "/console"
    got = app_client.get("/api/admin/audit", params={"action": "user.password"}, headers=AUTH).json()["items"]
    assert [(i["actor"], i["target_id"]) for i in got] == [("honda", "honda")]


@pytest.mark.parametrize("name", ["a/b", "two words", "admin-token", "", "x" * 65, "tab\there"])
def test_bad_account_names_are_refused_in_both_languages(app_client, name):
    with pytest.raises(BadRequestError) as info:
        accounts.add_user(app_client.services.query_log, name=name, role="staff", password=PW_A, actor="test")
    assert info.value.status_code == 422 and info.value.detail_ja != info.value.detail_en


def test_the_installed_command_reads_the_password_from_stdin(app_client, tmp_path):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("MADOGUCHI_")}
    env.update(MADOGUCHI_DATA_DIR=str(app_client.services.settings.data_dir), PYTHONPATH=str(ROOT))
    if app_client.services.settings.database_url:
        env["MADOGUCHI_DATABASE_URL"] = app_client.services.settings.database_url
    run = subprocess.run(
        [sys.executable, "-m", "app.cli", "users", "add", "kudo", "--role", "staff", "--password-stdin"],
        input=PW_A + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert accounts.verify_password(app_client.services.query_log, "kudo", PW_A) is not None


def test_users_api_for_admins_only(app_client):
    r = app_client.post("/api/admin/users", json={"name": "oda", "role": "staff", "password": PW_A}, headers=AUTH)
    assert r.status_code == 201 and r.json() == {**r.json(), "name": "oda", "role": "staff", "disabled": False}
    assert "password" not in r.text and "argon2" not in r.text
    r = app_client.post("/api/admin/users", json={"name": "oda", "role": "staff", "password": PW_A}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"] == "user_exists"
    r = app_client.post("/api/admin/users", json={"name": "ono", "role": "root", "password": PW_A}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"] == "bad_role"
    token = app_client.post("/api/admin/users/oda/token", headers=AUTH).json()["token"]
    staff = {"Authorization": f"Bearer {token}"}
    assert app_client.get("/api/admin/users", headers=staff).status_code == 403  # a staff account
    assert app_client.post("/api/admin/users/oda/disable", headers=AUTH).json()["disabled"] is True
    assert app_client.get("/api/admin/faq", headers=staff).status_code == 401
    assert app_client.post("/api/admin/users/nobody/disable", headers=AUTH).status_code == 404
    assert [u["name"] for u in app_client.get("/api/admin/users", headers=AUTH).json()["users"]] == ["oda"]


NASTY_BODIES = [
    b"{not json",
    b'{"name": "\\ud800x", "role": "staff", "password": "correct horse battery"}',
    b"[]",
    b'{"change_id": 99999999999999999999999}',
]


@pytest.mark.parametrize("body", NASTY_BODIES)
@pytest.mark.parametrize("path", ["/api/admin/users", "/api/admin/faq/1/restore"])
def test_bad_bodies_on_the_new_routes_are_4xx_json(app_client, path, body):
    r = app_client.post(path, content=body, headers={**AUTH, "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500 and "error" in r.json(), (r.status_code, r.text)


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-13-45"},
        {"until": "nonsense"},
        {"page": "99999999999999999999"},
        {"per_page": "0"},
        {"actor": "\x00", "target_id": "x" * 5000},
    ],
)
def test_bad_audit_filters_are_4xx_or_empty_never_500(app_client, params):
    r = app_client.get("/api/admin/audit", params=params, headers=AUTH)
    assert r.status_code in (200, 422) and ("items" in r.json() or "error" in r.json())


def test_a_huge_login_form_value_is_no_500(app_client):
    r = console_login(app_client, "名" * 5000, "x" * 5000)
    assert r.status_code == 303 and "bad=1" in r.headers["location"]


def test_control_characters_in_a_login_or_a_filter_are_refused_without_reaching_the_database(app_client):
    assert "bad=1" in console_login(app_client, "a\x00b", "x\x00" * 8).headers["location"]
    r = app_client.get("/api/admin/audit", params={"actor": "a\x00b"}, headers=AUTH)
    assert r.status_code == 422 and r.json()["error"] == "bad_filter"


def test_an_admin_changes_a_role_and_it_applies_at_once(app_client):
    log = app_client.services.query_log
    accounts.add_user(log, name="kimura", role="staff", password=PW_A, actor="test")
    accounts.add_user(log, name="chief", role="admin", password=PW_B, actor="test")
    other = app_client.__class__(app_client.app)
    console_login(other, "kimura", PW_A)
    assert other.get("/console/documents").status_code == 403
    console_login(app_client, "chief", PW_B)
    r = app_client.post(
        "/console/users/kimura/role", data={"csrf": csrf_of(app_client, "/console/users"), "role": "admin"}
    )
    assert r.status_code == 200 and "アカウントを更新しました" in r.text
    assert other.get("/console/documents", follow_redirects=False).status_code == 303  # the old session ended
    console_login(other, "kimura", PW_A)
    assert other.get("/console/documents").status_code == 200
    r = app_client.post(
        "/console/users/chief/role", data={"csrf": csrf_of(app_client, "/console/users"), "role": "staff"}
    )
    assert r.status_code == 422 and "自分の権限は変更できません" in r.text
    got = app_client.get("/api/admin/audit", params={"action": "user.role"}, headers=AUTH).json()["items"]
    assert [(i["actor"], i["before"]["role"], i["after"]["role"]) for i in got] == [("chief", "staff", "admin")]


def test_an_admin_token_session_ends_when_the_admin_token_changes(app_client):
    console_login(app_client, "", TOKEN)
    assert app_client.get("/console/faq", follow_redirects=False).status_code == 200
    app_client.app.state.settings.admin_token = "another-long-admin-token"
    assert app_client.get("/console/faq", follow_redirects=False).status_code == 303
