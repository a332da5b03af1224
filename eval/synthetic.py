"""A synthetic corpus for `madoguchi bench`: the shared files copied again and again, each copy perturbed
(digits shifted, Markdown headings tagged with an edition) so that every copy is its own text, until the copy holds
about the requested number of chunks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

_JA_TAGS = [
    "営業部版",
    "開発部版",
    "管理部版",
    "大阪支社版",
    "福岡支社版",
    "名古屋支社版",
    "札幌支社版",
    "仙台支社版",
    "広島支社版",
    "横浜支社版",
]
_EN_TAGS = [
    "(Sales edition)",
    "(Engineering edition)",
    "(Ops edition)",
    "(Chicago edition)",
    "(Denver edition)",
    "(Boston edition)",
    "(Austin edition)",
    "(Seattle edition)",
    "(Atlanta edition)",
    "(Miami edition)",
]

_DIGIT = re.compile(r"[0-9]")
_HEADING = re.compile(r"^(#{1,6}\s+.+?)\s*$", re.M)
_FRONT = re.compile(r"\A(---\s*\n.*?\n---\s*\n)", re.S)


def perturb(text: str, copy: int, *, japanese: bool) -> str:
    """A recognisably different copy: digits shifted by `copy`, every Markdown heading tagged with an edition."""
    tags = _JA_TAGS if japanese else _EN_TAGS
    tag = tags[(copy - 1) % len(tags)] + ("" if copy <= len(tags) else f" {copy}")
    front = ""
    m = _FRONT.match(text)
    if m:
        front, text = m.group(1), text[m.end() :]
    text = _DIGIT.sub(lambda d: str((int(d.group()) + copy) % 10), text)
    text = _HEADING.sub(lambda h: f"{h.group(1)} {tag}", text)
    return front + text


def make_synthetic_corpus(*, folders: list[Path], out: Path, file_chunks: dict[str, int], target_chunks: int) -> dict:
    """Copy the corpus files into `out` (copy 0 as is, then perturbed copies) until ~`target_chunks` chunks.

    `file_chunks` maps "<folder name>/<relative path>" to the chunks that file produced in the real ingest."""
    from ingest.loaders import SUPPORTED

    files = []
    for folder in folders:
        for p in sorted(folder.rglob("*")):
            if p.is_file() and p.suffix.lower() in SUPPORTED:
                key = f"{folder.name}/{p.relative_to(folder).as_posix()}"
                if file_chunks.get(key, 0) > 0:
                    files.append((p, key, file_chunks[key]))
    if not files:
        raise ValueError("no ingestible file in the corpora")
    total = 0
    written = 0
    copy = 0
    while total < target_chunks:
        for p, key, chunks in files:
            if total >= target_chunks:
                break
            dest = out / f"copy{copy:03d}" / key
            dest.parent.mkdir(parents=True, exist_ok=True)
            if copy == 0 or p.suffix.lower() not in (".md", ".markdown", ".txt", ".text"):
                shutil.copyfile(p, dest)
            else:
                text = p.read_text(encoding="utf-8-sig")
                dest.write_text(
                    perturb(text, copy, japanese=bool(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", text))),
                    encoding="utf-8",
                )
            total += chunks
            written += 1
        copy += 1
    return {"files": written, "copies": copy, "estimated_chunks": total}
