"""Slack 解決した on an answer that came from an FAQ entry proposes the asker's wording for staff review (never
learned silently). Same harness as tests/test_slack_bot.py: a local server stands in for Slack's Web API."""

from __future__ import annotations

from app.ops import faq
from tests.test_slack_bot import _answered, fake, manuals, services, slack  # noqa: F401 - fixtures and helpers

LOCKER_Q = "ロッカーの鍵をなくしたらどうすればいいですか"
LOCKER_A = "総務部で予備の鍵を貸し出します。紛失届を提出してください。"


def test_solved_on_an_faq_answer_proposes_the_wording(slack, services):  # noqa: F811
    h = slack()
    entry = faq.create_entry(services, question=LOCKER_Q, answer=LOCKER_A, category="supplies")
    asked = "ロッカーの鍵をなくしたらどうすればいいですか？"
    ev, message = _answered(h, asked)
    record = h.services.query_log.find_by_meta("slack_message_ts", ev["ts"])
    assert record.outcome == "answered" and record.sources[0]["doc_id"] == entry.doc_id
    assert services.query_log.proposals.list() == []
    h.click(message, "解決した", name="solved-faq")
    h.response("solved-faq")
    [proposal] = services.query_log.proposals.list()
    assert proposal.question == asked and proposal.entry_id == entry.id and proposal.query_id == record.id
    assert faq.get_entry(services, entry.id).wordings == []  # proposed, not learned
    faq.delete_entry(services, entry.id)
