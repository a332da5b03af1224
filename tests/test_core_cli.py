"""The `madoguchi` command line (app/cli.py): ingest / ask / documents with --json, exit code 1 when a file failed,
and ingest through a running server's admin endpoint when that server holds the data dir (a real
`madoguchi serve` subprocess on a free port). The other commands run in-process through `app.cli.main`, the
function behind the console script, with settings from the environment as a user's shell would give them."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from app.cli import main


def re_match(pattern: str, text: str) -> bool:
    return re.fullmatch(pattern, text) is not None


API_KEYS = {"query_id", "question", "answer", "outcome", "confidence", "category", "sources"}


def write_docs(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "駐輪場規程.txt").write_text(
        "駐輪場規程\n\n第1条（届出）\n自転車で通勤する者は、総務部に届け出て駐輪ステッカーの交付を受けなければならない。\n\n"
        "第2条（利用時間）\n駐輪場は午前7時から午後10時まで利用できる。\n",
        encoding="cp932",
    )
    (folder / "visitor-guide.md").write_text(
        "---\ncategory: other\n---\n# Visitor guide\n\n## Reception\n\nVisitors sign in at the reception desk on the first floor.\n",
        encoding="utf-8",
    )
    (folder / "empty.txt").write_bytes(b"")
    return folder


def cli(data_dir: Path, *argv: str) -> SimpleNamespace:
    """Run `madoguchi ARGV...` in-process with MADOGUCHI_DATA_DIR set; capture its exit code and output."""
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith(("MADOGUCHI_", "SLACK_", "OPENAI_")):
                mp.delenv(key)
        mp.setenv("MADOGUCHI_DATA_DIR", str(data_dir))
        mp.chdir(data_dir.parent)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(argv))
    return SimpleNamespace(code=code, out=out.getvalue(), err=err.getvalue())


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    docs = write_docs(root / "docs")
    data = root / "data"
    run = cli(data, "ingest", str(docs), "--json")
    return SimpleNamespace(docs=docs, data=data, run=run, report=json.loads(run.out))


def test_ingest_json_reports_every_file_and_exits_1_when_one_failed(ingested):
    assert ingested.run.code == 1
    report = ingested.report
    files = {f["doc_id"]: f for f in report["files"]}
    assert {d: f["status"] for d, f in files.items()} == {
        "駐輪場規程.txt": "added",
        "visitor-guide.md": "added",
        "empty.txt": "failed",
    }
    assert (
        files["empty.txt"]["error"] == "The file is empty." and files["empty.txt"]["error_ja"] == "ファイルが空です。"
    )
    assert files["駐輪場規程.txt"]["chunks"] == 2
    assert report["counts"] == {"added": 2, "failed": 1}
    assert report["version"] == 1 and report["chunks"] == 3
    assert not (ingested.data / "server.json").exists(), "the CLI released the data dir when it finished"


def test_documents_json_lists_what_the_store_holds(ingested):
    run = cli(ingested.data, "documents", "--json")
    assert run.code == 0
    docs = {d["doc_id"]: d for d in json.loads(run.out)}
    assert set(docs) == {"駐輪場規程.txt", "visitor-guide.md", "empty.txt"}
    bike = docs["駐輪場規程.txt"]
    assert bike["title"] == "駐輪場規程" and bike["status"] == "ok" and bike["chunks"] == 2 and len(bike["hash"]) == 64
    assert docs["visitor-guide.md"]["category"] == "other"
    assert docs["empty.txt"]["status"] == "failed" and docs["empty.txt"]["error"] == "The file is empty."

    plain = cli(ingested.data, "documents")
    assert plain.code == 0
    assert any(
        line.startswith("failed") and "empty.txt" in line and "The file is empty." in line
        for line in plain.out.splitlines()
    )


def test_ask_json_is_the_api_json(ingested):
    run = cli(ingested.data, "ask", "自転車通勤の届出はどこに出しますか？", "--json")
    assert run.code == 0, run.err
    body = json.loads(run.out)
    assert API_KEYS <= set(body)
    assert body["question"] == "自転車通勤の届出はどこに出しますか？"
    assert 0.0 <= body["confidence"] <= 1.0
    top = body["sources"][0]
    assert top["source"] == "駐輪場規程.txt" and top["section"] == "駐輪場規程 > 第1条（届出）"
    assert "駐輪ステッカー" in top["snippet"]

    plain = cli(ingested.data, "ask", "Where do visitors sign in?")
    assert plain.code == 0
    assert any(re_match(r"\[(answered|escalated)\] confidence=[01]\.\d\d", line) for line in plain.out.splitlines())
    assert "[1] Visitor guide > Reception" in plain.out

    bad = cli(ingested.data, "ask", "自転車は？", "--category", "food")
    assert bad.code == 2
    assert "不明なカテゴリ" in bad.err and "Unknown category" in bad.err
    empty = cli(ingested.data, "ask", "   ")
    assert empty.code == 2 and "質問が空です" in empty.err


def test_reingest_prints_each_file_and_prune_clears_the_failure(tmp_path):
    docs = write_docs(tmp_path / "docs")
    data = tmp_path / "data"
    assert cli(data, "ingest", str(docs), "--json").code == 1

    again = cli(data, "ingest", str(docs))
    assert again.code == 1, "a file that still fails keeps the exit code at 1"
    lines = again.out.splitlines()
    assert "= 駐輪場規程.txt  [unchanged]" in lines
    assert "= visitor-guide.md  [unchanged]" in lines
    assert "! empty.txt  [failed]  ファイルが空です。" in lines
    assert re_match(r"corpus version \d+: failed 1, unchanged 2 \(\d+\.\d\ds\)", lines[-1])

    (docs / "empty.txt").unlink()
    (docs / "visitor-guide.md").write_text(
        "# Visitor guide\n\n## Reception\n\nVisitors sign in on the second floor.\n", encoding="utf-8"
    )
    pruned = cli(data, "ingest", str(docs), "--prune", "--json")
    assert pruned.code == 0
    assert {f["doc_id"]: f["status"] for f in json.loads(pruned.out)["files"]} == {
        "駐輪場規程.txt": "unchanged",
        "visitor-guide.md": "updated",
        "empty.txt": "removed",
    }
    assert {d["doc_id"] for d in json.loads(cli(data, "documents", "--json").out)} == {
        "駐輪場規程.txt",
        "visitor-guide.md",
    }

    missing = cli(data, "ingest", str(tmp_path / "nope.pdf"), "--json")
    assert missing.code == 1
    assert json.loads(missing.out)["files"][0]["error"].startswith("File not found")


def test_a_second_ingest_while_another_holds_the_data_dir_says_busy(tmp_path):
    from app.settings import Settings
    from app.store.runfile import ServerRun

    docs = write_docs(tmp_path / "docs")
    data = tmp_path / "data"
    holder = ServerRun.claim(
        Settings(_env_file=None, data_dir=data), url="cli"
    )  # what a running `madoguchi ingest` holds
    assert holder is not None
    try:
        run = cli(data, "ingest", str(docs))
    finally:
        holder.release()
    assert run.code == 2
    assert "使用中" in run.err and "busy" in run.err
    assert not (data / "chroma").exists() or not any((data / "chroma").iterdir()), "nothing was written"


# ------------------------------------------------------------------------------------------ through a server


def test_ingest_goes_through_the_running_server_that_holds_the_data_dir(tmp_path):
    from tests.servers import ApiProcess

    docs = write_docs(tmp_path / "docs")
    (docs / "empty.txt").unlink()
    data = tmp_path / "data"
    api = ApiProcess(
        env={"MADOGUCHI_DATA_DIR": str(data), "MADOGUCHI_DOCS_DIR": str(docs), "MADOGUCHI_REFRESH_INTERVAL_S": "60"},
        log=tmp_path / "serve.log",
    )
    api.start()
    try:
        info = json.loads((data / "server.json").read_text())
        assert info["url"] == api.url and info["pid"] == api.proc.pid
        assert oct((data / "server.json").stat().st_mode & 0o777) == "0o600", (
            "the local token is readable by its owner only"
        )

        run = cli(data, "ingest", str(docs), "--json")
        assert run.code == 0, run.err
        assert f"ingesting through {api.url}/api/admin/ingest" in run.err
        report = json.loads(run.out)
        assert {f["doc_id"]: f["status"] for f in report["files"]} == {
            "駐輪場規程.txt": "added",
            "visitor-guide.md": "added",
        }

        # The server answers from what was just ingested, without a restart or a refresh tick (its interval is 60 s).
        with api.client() as http:
            body = http.post("/api/ask", json={"question": "駐輪場は何時まで使えますか？"}).json()
            assert body["sources"][0]["section"] == "駐輪場規程 > 第2条（利用時間）"
            assert "午後10時" in body["sources"][0]["snippet"]
            assert http.get("/readyz").json()["chunks"] == 3
            # MADOGUCHI_ADMIN_TOKEN is unset: the admin routes are off for anyone without the local token.
            assert http.get("/api/admin/documents", headers={"Authorization": "Bearer guess"}).status_code == 404

        # Reads go through the server too (one process per Chroma directory): same answers, same document list.
        asked = cli(data, "ask", "駐輪場は何時まで使えますか？", "--json")
        assert asked.code == 0, asked.err
        assert json.loads(asked.out)["sources"][0]["section"] == "駐輪場規程 > 第2条（利用時間）"
        listed = cli(data, "documents", "--json")
        assert listed.code == 0, listed.err
        assert {d["doc_id"] for d in json.loads(listed.out)} == {"駐輪場規程.txt", "visitor-guide.md"}

        (docs / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
        failed = cli(data, "ingest", str(docs), "--json")
        assert failed.code == 1
        statuses = {f["doc_id"]: f["status"] for f in json.loads(failed.out)["files"]}
        assert statuses == {"駐輪場規程.txt": "unchanged", "visitor-guide.md": "unchanged", "broken.pdf": "failed"}
    finally:
        api.stop()
    assert not (data / "server.json").exists(), "the server removed its run file on shutdown"

    # With the server gone the CLI opens the store itself: it is the one the server wrote.
    direct = cli(data, "ingest", str(docs), "--json")
    assert "ingesting through" not in direct.err
    assert {f["doc_id"]: f["status"] for f in json.loads(direct.out)["files"]} == {
        "駐輪場規程.txt": "unchanged",
        "visitor-guide.md": "unchanged",
        "broken.pdf": "failed",
    }
    assert direct.code == 1
