"""Helpers for writing Northwind training questions (see build_questions.py)."""


def A(style, category, question, source, section, facts, rw1, rw2, also=None):
    """An answerable question: `section` is a heading (or the page title) of `source`, or a list of them."""
    item = {"question": question, "answerable": True, "source": source, "section": section, "caption": section,
            "answer_facts": facts, "category": category, "style": style, "asker_class": None,
            "rewordings": [rw1, rw2]}
    if also:
        item["also_in"] = [{"source": s, "section": h} for s, h in also]
    return item


def U(style, category, question, rw1, rw2, near=None):
    """An on-topic question the handbook does not settle."""
    item = {"question": question, "answerable": False, "source": None, "section": None, "caption": None,
            "answer_facts": [], "category": category, "style": style, "asker_class": None,
            "rewordings": [rw1, rw2]}
    if near:
        item["near_miss"] = {"source": near[0], "section": near[1]}
    return item
