"""Docs generated from code stay in sync with it."""

from pathlib import Path

from app.docs import render_readme, settings_table
from app.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_settings_table_is_current():
    text = README.read_text(encoding="utf-8")
    assert render_readme(text) == text, "README settings table is stale: run `python -m app.docs`"


def test_every_setting_is_in_the_table():
    table = settings_table()
    for name in Settings.model_fields:
        assert f"MADOGUCHI_{name.upper()}" in table or name.startswith("slack_"), name


def test_readme_quick_start_is_make_run_and_make_test():
    text = README.read_text(encoding="utf-8")
    assert "make run" in text and "make test" in text
