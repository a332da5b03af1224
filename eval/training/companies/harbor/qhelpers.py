"""Helpers for writing Harbor & Pine training questions (see build_questions.py)."""

EH = "Employee Handbook.pdf"
TE = "Travel and Expense Policy.docx"
SAG = "store-associate-guide.html"
IT = "IT-Acceptable-Use-Policy.txt"
BEN = "benefits-summary.md"
WSR = "warehouse-safety-rules.md"
EQ = "equipment-and-uniform-policy.md"
FAQ = "Harbor-Pine-FAQ.xlsx"


def A(style, category, question, source, section, facts, rw1, rw2, also=None, cls=None):
    """An answerable question: `section` is a heading of `source` (or an FAQ row's question), or a list of them."""
    item = {"question": question, "answerable": True, "source": source, "section": section, "caption": section,
            "answer_facts": facts, "category": category, "style": style, "asker_class": cls,
            "rewordings": [rw1, rw2]}
    if also:
        item["also_in"] = [{"source": s, "section": h} for s, h in also]
    return item


def U(style, category, question, rw1, rw2, near=None, cls=None):
    """An on-topic question the documents do not settle."""
    item = {"question": question, "answerable": False, "source": None, "section": None, "caption": None,
            "answer_facts": [], "category": category, "style": style, "asker_class": cls,
            "rewordings": [rw1, rw2]}
    if near:
        item["near_miss"] = {"source": near[0], "section": near[1]}
    return item
