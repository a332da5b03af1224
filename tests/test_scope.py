"""Scope: the employee class a document applies to and the class an asker states (app/retrieval/scope.py)."""

from app.retrieval.scope import document_classes, question_classes, scope_article_text


def test_document_classes_from_title_and_scope_article():
    assert document_classes("パートタイマー・アルバイト就業規則") == ["パート"]
    assert document_classes("短時間正社員就業規則") == ["短時間正社員"]
    assert document_classes("正社員就業規則") == [], "the general rules"
    assert document_classes("就業規則", "この規則は、契約社員に適用する。") == ["契約社員"]
    assert document_classes("就業規則", "この規則は、正社員及び契約社員に適用する。") == [], (
        "general when 正社員 is covered"
    )
    assert document_classes("就業規則", "この規則は社員に適用する。ただしパートタイマーには適用しない。") == []
    assert document_classes("育児・介護休業規程", "有期雇用の社員は、契約が満了しない場合に限る。") == [], (
        "a condition is not a scope"
    )
    text = scope_article_text(
        [("第1条（目的）", "目的です。"), ("第2条（適用範囲）", "この規則はパートタイマーに適用する。")]
    )
    assert document_classes("就業規則", text) == ["パート"]


def test_question_classes():
    assert question_classes("パートなんですけど有給って何日もらえますか") == ["パート"]
    assert question_classes("時短正社員です。賞与はありますか？") == ["短時間正社員"]
    assert question_classes("契約社員でもボーナス出る？") == ["契約社員"]
    assert question_classes("有給って何日？") == []
    assert question_classes("副業でバイトしてもいいですか") == [], "a side job is not an employee class"


def test_a_scope_article_whose_first_paragraph_defines_a_term():
    """「（以下「従業員」という。）」 closes a sentence inside the paragraph that names the classes."""
    text = (
        "1 この規程は、会社に雇用されるすべての正社員及び契約社員(以下「従業員」という。)に適用する。\n"
        "2 パートタイマーについては、この規程を適用するほか、個別の雇用契約書に定めるところによる。"
    )
    assert document_classes("勤怠管理規程", text) == [], "the general rules, which also cover part-timers"
