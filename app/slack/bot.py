"""The Slack side of a question's life: ask → reply → (escalate) → staff answer relayed back.

`SlackBot` is called by the Bolt listeners in `handlers.py` (HTTP Events API and Socket Mode alike). It turns a
question into the one `app.answer.answer(...)` call, the result into Block Kit (`blocks.py`), and keeps the
Slack coordinates of each question in the query log (`conversations.py`). Every failure is logged and still ends
with a reply telling the asker their question went to the staff.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from slack_sdk import WebClient

from app.answer import answer, detect_language, error_result, record_result
from app.clock import zone
from app.errors import BadRequestError, NotReadyError, RateLimitedError
from app.ops import ratelimit
from app.ops.events import question_escalated, question_resolved
from app.ports import SlackLogPort
from app.result import AnswerResult
from app.services import Services
from app.settings import Settings
from app.slack import blocks, blocks_home
from app.slack.conversations import LocalLog
from app.store.querylog import QueryRecord

logger = logging.getLogger(__name__)

T = TypeVar("T")
Via = Literal["mention", "dm", "slash"]
EscalationOutcome = Literal["escalated", "already", "missing"]


@dataclass
class Asked:
    """A question as Slack delivered it."""

    text: str
    user: str
    team: str | None
    channel: str  # the Slack channel id the question was asked in (a DM's id for DMs)
    via: Via
    event_key: str  # claimed once, so a retried delivery is not answered twice
    message_ts: str | None = None  # the asker's message (absent for /faq)
    reply_thread_ts: str | None = None  # where the answer goes (None: top level of a DM, or /faq)
    thread_ts: str | None = None  # the conversation's thread in the asker's channel, if any
    respond: Callable[..., Any] | None = None  # /faq: posts through the command's response_url


class SlackBot:
    def __init__(
        self, *, settings: Settings, client: WebClient, get_services: Callable[[], Services | None], workers: int = 4
    ) -> None:
        self.settings = settings
        self.client = client
        self._get_services = get_services
        self._local = LocalLog()
        self._warned_no_log = False
        # Two pools: Bolt's listeners (acks and hand-offs, always quick, so Slack's 3-second ack never waits behind
        # a slow answer) and the workers that answer questions and call Slack.
        self.executor = ThreadPoolExecutor(max_workers=16, thread_name_prefix="slack-listener")
        self.workers = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-worker")

    def submit(self, fn: Callable[..., object], /, *args: object, **kwargs: object) -> None:
        """Run `fn` on the worker pool; its exceptions are logged, never lost."""

        def run():
            try:
                fn(*args, **kwargs)
            except Exception:  # noqa: BLE001
                logger.exception("Slack task %s failed", getattr(fn, "__name__", fn))

        self.workers.submit(run)

    def shutdown(self) -> None:
        """Finish the questions being answered, then stop (called when the server stops)."""
        self.executor.shutdown(wait=True)
        self.workers.shutdown(wait=True)

    # --- plumbing ---
    @property
    def services(self) -> Services | None:
        """None while the server is still starting (its services are not built yet)."""
        return self._get_services()

    @property
    def log(self) -> SlackLogPort:
        """The query log when configured; else the single-process stand-in."""
        services = self._get_services()
        if services is not None and services.query_log is not None:
            return services.query_log
        if not self._warned_no_log:
            logger.warning("no query log: Slack questions, dedupe and threads are kept in memory (single process only)")
            self._warned_no_log = True
        return self._local

    def claim(self, key: str) -> bool:
        try:
            return self.log.claim_event(key)
        except Exception:  # noqa: BLE001 - better to risk a duplicate answer than no answer
            logger.exception("could not claim Slack event %s; answering anyway", key)
            return True

    def _logged(self, call: Callable[[], T], what: str) -> T | None:
        """Run one query-log call; a failure is logged and the Slack conversation goes on (None)."""
        try:
            return call()
        except Exception:  # noqa: BLE001 - the asker still gets a reply; the failure is in the server log
            logger.exception("query log %s failed", what)
            return None

    # --- asking ---
    def ask(self, q: Asked) -> None:
        if not self.claim(q.event_key):
            logger.info("Slack event %s already handled (retry); skipped", q.event_key)
            return
        text = q.text.strip()
        lang = detect_language(text) if text else "ja"
        if not text:
            key = {"mention": "help_mention", "slash": "help_slash"}.get(q.via, "help_dm")
            self._post(q, blocks.notice(blocks.t(lang, key)))
            return
        meta: dict[str, str | None] = {
            "slack_team": q.team,
            "slack_channel": q.channel,
            "slack_user": q.user,
            "slack_via": q.via,
        }
        if q.message_ts:
            meta["slack_message_ts"] = q.message_ts
        if q.thread_ts:
            meta["slack_thread_ts"] = q.thread_ts
        try:
            services = self.services
            if services is None:
                raise NotReadyError("The server is still starting.", "サーバーの起動中です。")
            # The same per-asker limit as /api/ask (its own key space: an API caller cannot spend a Slack user's).
            ratelimit.admit(services.ask_limits, user_id=f"slack:{q.team}:{q.user}", client=None)
            # The one recording path: answer() writes the question (with its Slack coordinates) to the query log.
            result = answer(question=text, services=services, user_id=q.user, origin="slack", meta=meta)
            if services.query_log is None:
                self._local.record(result, meta=meta)  # no query log: the single-process stand-in keeps the thread
        except (BadRequestError, RateLimitedError) as exc:  # a polite reply saying what to do, never silence
            self._post(q, blocks.notice(exc.detail(lang)))
            return
        except Exception:  # noqa: BLE001 - an empty index, a failing LLM or log, anything: the staff take over
            logger.exception("answering a Slack question failed; passing it to the staff")
            result = error_result(question=text, lang=lang, origin="slack", user_id=q.user)
            self._record(result, meta)
        public_slash = q.via == "slash" and self.settings.slack_slash_public
        threaded = bool(q.thread_ts) or public_slash
        message = blocks.answer_message(result, asker=q.user, show_question=q.via == "slash", threaded=threaded)
        posted = self._post(q, message, public=public_slash)
        if posted is False:
            # The answer could not be delivered (a Slack API error): tell the asker in plain text, hand over.
            if result.outcome == "answered":
                result.outcome, result.escalation_reason = "escalated", "error"
                self._logged(lambda: self.log.escalate(result.query_id, "error"), f"escalate({result.query_id})")
            self._post(q, blocks.notice(blocks.t(result.language, "error")), plain=True, public=public_slash)
        elif isinstance(posted, str):
            updates = {"slack_reply_ts": posted}
            if public_slash:  # the bot's public message is where the conversation continues
                updates.update(slack_thread_ts=posted, slack_message_ts=posted)
            self._logged(lambda: self.log.update_meta(result.query_id, **updates), f"update_meta({result.query_id})")
        if result.outcome == "escalated":
            self.escalate(result.query_id, reason=result.escalation_reason or "low_confidence", recorded=True)

    def _record(self, result: AnswerResult, meta: dict) -> None:
        """Record the reply to a question that could not be answered (through the same `record_result` as answer());
        when even that fails, the asker is still told and the failure is in the server log."""
        services = self.services
        try:
            if services is not None and services.query_log is not None:
                record_result(services, result, meta=meta)
                question_escalated(services, result.query_id)  # the webhook hears of it like any escalation
            else:
                self._local.record(result, meta=meta)
        except Exception:  # noqa: BLE001 - logged by record_result; the asker still gets the notice
            logger.error("Slack question %s is not in the query log", result.query_id)

    def _post(self, q: Asked, message: dict, *, public: bool = False, plain: bool = False) -> str | bool | None:
        """Reply to the asker. Returns the message ts, None when posted without one (response_url), False on failure."""
        payload = {"text": message["text"]} if plain else dict(message)
        try:
            if q.via == "slash" and not public:
                assert q.respond is not None  # /faq always comes with its response_url
                q.respond(response_type="ephemeral", replace_original=False, **payload)
                return None
            try:
                resp = self.client.chat_postMessage(
                    channel=q.channel, thread_ts=q.reply_thread_ts, unfurl_links=False, **payload
                )
            except Exception:
                if q.via != "slash":
                    raise
                # The bot is not in this channel: answer the /faq privately instead.
                logger.warning(
                    "could not post /faq answer publicly in %s; answering privately", q.channel, exc_info=True
                )
                assert q.respond is not None
                q.respond(response_type="ephemeral", replace_original=False, **payload)
                return None
            return resp.get("ts")
        except Exception:  # noqa: BLE001
            logger.exception("could not reply to Slack question in %s", q.channel)
            return False

    # --- escalation ---
    def escalate(self, query_id: str, *, reason: str, recorded: bool = False) -> EscalationOutcome:
        """Pass a question to the staff once: mark it in the log, post it to the escalation channel.

        Returns "escalated", "already" (someone did before) or "missing" (unknown question)."""
        if not self.claim(f"slack:escalate:{query_id}"):
            return "already"
        if recorded:
            rec = self._logged(lambda: self.log.get(query_id), f"get({query_id})")
        else:
            rec = self._logged(lambda: self.log.escalate(query_id, reason), f"escalate({query_id})")
        if rec is None:
            logger.error("cannot escalate Slack question %s: it is not in the query log", query_id)
            return "missing"
        services = self.services
        if not recorded and services is not None:
            question_escalated(services, query_id)  # the webhook (answer() announces the questions it records)
        channel = self.settings.slack_escalation_channel
        if not channel:
            logger.warning(
                "question %s escalated, but MADOGUCHI_SLACK_ESCALATION_CHANNEL is not set: it is only in the query log",
                query_id,
            )
            return "escalated"
        meta = rec.meta or {}
        post = blocks.escalation_post(
            question=rec.question,
            asker=meta.get("slack_user") or rec.user_id,
            via=meta.get("slack_via"),
            channel=meta.get("slack_channel"),
            reason=reason if not recorded else (rec.escalation_reason or reason),
            attempt=rec.answer,
            sources=rec.sources,
            language=rec.language,
            permalink=self._permalink(meta),
            staff_group=self.settings.slack_staff_group,
            query_id=query_id,
            origin=rec.origin,
            console_url=self._console_url(),
        )
        try:
            resp = self.client.chat_postMessage(channel=channel, unfurl_links=False, **post)
        except Exception:  # noqa: BLE001 - it stays escalated in the log, where the console shows it
            logger.exception("could not post escalated question %s to %s", query_id, channel)
            return "escalated"
        self._logged(
            lambda: self.log.update_meta(
                query_id, slack_escalation_channel=resp.get("channel") or channel, slack_escalation_ts=resp.get("ts")
            ),
            f"update_meta({query_id})",
        )
        return "escalated"

    def _console_url(self) -> str | None:
        base = (self.settings.public_url or "").rstrip("/")
        return f"{base}/console/gaps" if base else None

    def escalation_hook(self, record: QueryRecord) -> None:
        """`services.escalation_hooks` entry: a question from another channel (the HTTP API, the CLI) that went to
        the staff is posted to the staff channel too (Slack questions are posted by `escalate` itself)."""
        if record.origin == "slack":
            return
        self.submit(self.escalate, record.id, reason=record.escalation_reason or "low_confidence", recorded=True)

    def _permalink(self, meta: dict) -> str | None:
        ts = meta.get("slack_message_ts") or meta.get("slack_thread_ts")
        if not ts or not meta.get("slack_channel") or meta.get("slack_via") == "dm":
            return None  # the staff cannot open someone else's DM
        try:
            return self.client.chat_getPermalink(channel=meta["slack_channel"], message_ts=ts).get("permalink")
        except Exception:  # noqa: BLE001
            logger.warning("chat.getPermalink failed for %s/%s", meta.get("slack_channel"), ts, exc_info=True)
            return None

    # --- buttons ---
    def on_button(self, *, action_id: str, value: str, clicker: str, body: dict, respond: Callable[..., Any]) -> None:
        data = json.loads(value or "{}")
        query_id, asker = data.get("q"), data.get("u")
        rec = self._logged(lambda: self.log.get(query_id), f"get({query_id})") if query_id else None
        lang = (rec.language if rec else None) or "ja"
        if asker and clicker != asker:
            respond(response_type="ephemeral", replace_original=False, text=blocks.t(lang, "not_asker"))
            return
        if action_id == blocks.ACTION_ASSIGN:
            self.assign(query_id, clicker=clicker, body=body, respond=respond)
            return
        current = self._message_blocks(body, rec)
        meta = (rec.meta if rec else None) or {}
        if action_id == blocks.ACTION_RESOLVED:
            self._logged(lambda: self.log.set_feedback(query_id, True), f"set_feedback({query_id})")
            new = blocks.with_status(current, blocks.t(lang, "thanks"))
        elif action_id == blocks.ACTION_NOT_RESOLVED:
            self._logged(lambda: self.log.set_feedback(query_id, False), f"set_feedback({query_id})")
            new = blocks.with_escalation_offer(current, query_id=query_id, asker=asker, lang=lang)
        elif action_id == blocks.ACTION_ESCALATE:
            outcome = self.escalate(query_id, reason=data.get("r") or "user_request")
            threaded = bool(meta.get("slack_thread_ts"))
            key = {"already": "already", "missing": "missing"}.get(outcome) or (
                "escalated_thread" if threaded else "escalated_dm"
            )
            new = blocks.with_status(current, blocks.t(lang, key))
        else:
            return
        text = (body.get("message") or {}).get("text") or blocks.t(lang, "question")
        respond(replace_original=True, text=text, blocks=new)

    def assign(self, query_id: str | None, *, clicker: str, body: dict, respond: Callable[..., Any]) -> None:
        """「担当する」 on a staff post: the clicking staff member handles the question (shown in the console, to the
        asker's follow-up route and on the post)."""
        if not query_id:
            return
        rec = self._logged(lambda: self.log.assign(query_id, self._staff_name(clicker)), f"assign({query_id})")
        if rec is None:
            respond(response_type="ephemeral", replace_original=False, text=blocks.t("ja", "missing"))
            return
        message = body.get("message") or {}
        new = blocks.with_assignee(message.get("blocks"), slack_user=clicker)
        respond(replace_original=True, text=message.get("text") or rec.question, blocks=new)

    def _staff_name(self, user: str) -> str:
        """`表示名 (slack:U…)`, or `slack:U…` when Slack does not tell the name."""
        try:
            info = self.client.users_info(user=user).get("user") or {}
        except Exception:  # noqa: BLE001 - the id alone still says who
            logger.warning("users.info failed for %s", user, exc_info=True)
            info = {}
        profile = info.get("profile") or {}
        name = profile.get("display_name") or profile.get("real_name") or info.get("real_name") or ""
        return f"{name} (slack:{user})" if name else f"slack:{user}"

    # --- App Home ---
    HOME_OPEN, HOME_ANSWERED = 10, 5

    def publish_home(self, user: str) -> None:
        """The asker's App Home tab: their questions with the staff, and the staff's latest answers to them."""
        records = self._logged(lambda: self.log.of_asker(user, limit=100), f"of_asker({user})") or []
        open_ = [r for r in records if r.resolved_at is None and (r.outcome == "escalated" or r.helpful is False)]
        answered = [r for r in records if r.resolved_at is not None]
        lang = records[0].language if records else "ja"
        tz = zone(self.settings)
        view = blocks_home.home_view(
            open_[: self.HOME_OPEN],
            answered[: self.HOME_ANSWERED],
            lang=lang or "ja",
            when=lambda d: d.astimezone(tz).strftime("%Y-%m-%d %H:%M") if d else "",
        )
        try:
            self.client.views_publish(user_id=user, view=view)
        except Exception:  # noqa: BLE001 - the tab keeps its old content
            logger.warning("views.publish failed for %s", user, exc_info=True)

    def _message_blocks(self, body: dict, rec: QueryRecord | None) -> list[dict]:
        """The clicked message's blocks (ephemeral /faq answers do not carry them: rebuilt from the log as the
        answered message they were, whatever happened to the question since)."""
        message = body.get("message") or {}
        if message.get("blocks"):
            return message["blocks"]
        if rec is None:
            return []
        meta = rec.meta or {}
        shown = dataclasses.replace(rec, outcome="answered")
        return blocks.answer_message(
            shown, asker=meta.get("slack_user"), show_question=meta.get("slack_via") == "slash"
        )["blocks"]

    # --- the staff's answers ---
    def on_staff_reply(self, *, channel: str, thread_ts: str, ts: str, user: str, text: str, event_key: str) -> bool:
        """A reply in an escalation thread: relay it to the asker and mark the question resolved.

        Returns False when the thread is not an escalation post (the message is none of the bot's business)."""
        rec = self._logged(
            lambda: self.log.find_by_meta("slack_escalation_ts", thread_ts), "find_by_meta(slack_escalation_ts)"
        )
        if rec is None or (rec.meta or {}).get("slack_escalation_channel") != channel:
            return False
        if not self.claim(event_key):
            return True
        body = (text or "").strip()
        if not body or body.startswith("//"):  # staff-only notes stay in the staff channel
            return True
        # A Slack asker gets the answer in Slack; an asker from another channel fetches it (follow-up route, webhook).
        if rec.origin == "slack" and not self.deliver_staff_answer(rec, body, staff_user=user, slack_formatted=True):
            return True
        resolved = self._logged(
            lambda: self.log.resolve(rec.id, answer=blocks.unescape(body), by=f"slack:{user}"), f"resolve({rec.id})"
        )
        services = self.services
        if resolved is not None and services is not None:
            question_resolved(services, resolved)
        try:
            self.client.reactions_add(channel=channel, timestamp=ts, name="white_check_mark")
        except Exception:  # noqa: BLE001 - a missing ✅ is cosmetic
            logger.warning("could not add the relayed ✅ to %s/%s", channel, ts, exc_info=True)
        return True

    def deliver_staff_answer(
        self, rec: QueryRecord, text: str, *, staff_user: str | None, slack_formatted: bool = False
    ) -> bool:
        """Post a staff answer where the asker will see it: their thread, their DM, or a DM for /faq."""
        meta = rec.meta or {}
        asker = meta.get("slack_user") or rec.user_id
        in_thread = bool(meta.get("slack_thread_ts") and meta.get("slack_channel"))
        message = blocks.staff_answer(
            text,
            staff_user=staff_user,
            lang=rec.language or "ja",
            asker=asker if in_thread and meta.get("slack_via") != "dm" else None,
            question=None if in_thread or meta.get("slack_via") == "dm" else rec.question,
            slack_formatted=slack_formatted,
        )
        target: dict[str, Any]
        if in_thread:
            target = {"channel": meta["slack_channel"], "thread_ts": meta["slack_thread_ts"]}
        elif meta.get("slack_via") == "dm" and meta.get("slack_channel"):
            target = {"channel": meta["slack_channel"]}
        elif asker:
            target = {"channel": asker}  # /faq answers were private: the staff's answer comes as a DM
        else:
            logger.error("cannot relay the staff answer to question %s: no Slack coordinates", rec.id)
            return False
        try:
            self.client.chat_postMessage(unfurl_links=False, **target, **message)
        except Exception:  # noqa: BLE001
            logger.exception("could not relay the staff answer to question %s", rec.id)
            return False
        return True

    def resolution_hook(self, record: QueryRecord, answer_text: str) -> bool | None:
        """`services.resolution_hooks` entry: a staff answer given in the web console reaches the Slack asker.
        Returns True when it was delivered, None when the question is not a Slack one."""
        meta = record.meta or {}
        if record.origin != "slack":
            self._note_console_answer(record, answer_text)  # its asker fetches it; the staff thread is told
            return None
        if not (meta.get("slack_channel") or meta.get("slack_user")):
            return None
        if not self.deliver_staff_answer(record, answer_text, staff_user=None):
            # Reported by the console as a relay error (the resolution itself stands).
            raise RuntimeError(f"could not post the staff answer to the Slack asker of question {record.id}")
        self._note_console_answer(record, answer_text)
        return True

    def _note_console_answer(self, record: QueryRecord, answer_text: str) -> None:
        meta = record.meta or {}
        if meta.get("slack_escalation_ts") and meta.get("slack_escalation_channel"):
            note = blocks.console_answer_note(answer_text, relayed=record.origin == "slack")
            try:
                self.client.chat_postMessage(
                    channel=meta["slack_escalation_channel"], thread_ts=meta["slack_escalation_ts"], **note
                )
            except Exception:  # noqa: BLE001
                logger.warning(
                    "could not note the console answer in the escalation thread of %s", record.id, exc_info=True
                )
