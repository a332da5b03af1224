"""Rendering helpers shared by the console pages: the Jinja2 environment (autoescaping on), language, CSRF."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.clock import zone
from app.console.i18n import category_label, texts
from app.console.session import LANG_COOKIE, ConsoleSession, csrf_ok
from app.errors import MadoguchiError
from app.types import CATEGORY_NAMES

HERE = Path(__file__).parent

env = Environment(
    loader=FileSystemLoader(str(HERE / "templates")),
    autoescape=select_autoescape(["html"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def lang_of(request: Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in ("ja", "en"):
        return chosen
    return "ja"


def _messages(request: Request, t: dict) -> list[dict]:
    """Flash messages arrive as known codes and numbers in the query string (never as free text)."""
    p = request.query_params
    done = p.get("done")

    def num(key: str) -> int:
        try:
            return int(p.get(key, "0"))
        except ValueError:
            return 0

    out = []
    if done == "resolved":
        out.append(
            {
                "kind": "ok",
                "text": t["resolved_msg"].format(n=num("n"))
                + (" " + t["relayed_msg"].format(n=num("relayed")) if num("relayed") else ""),
            }
        )
        if num("faq"):
            out.append({"kind": "ok", "text": t["faq_added_msg"]})
        if num("failed"):
            out.append({"kind": "error", "text": t["relay_failed_msg"].format(n=num("failed"))})
    elif done == "faq_saved":
        out.append({"kind": "ok", "text": t["faq_saved"]})
    elif done in ("faq_restored", "user_added", "user_updated", "password_reset", "password_changed"):
        out.append({"kind": "ok", "text": t[done]})
    elif done == "faq_deleted":
        out.append({"kind": "ok", "text": t["faq_deleted"]})
    elif done in ("term_saved", "term_deleted"):
        out.append({"kind": "ok", "text": t[done]})
    elif done == "reindexed":
        out.append({"kind": "ok", "text": t["reindex_done"].format(indexed=num("indexed"), removed=num("removed"))})
    elif done == "doc_deleted":
        out.append({"kind": "ok", "text": t["doc_deleted"]})
    # done=ingest: the documents page words it from the stored last ingest (one source of the counts)
    return out


def render(
    request: Request, template: str, *, session: ConsoleSession | None, status_code: int = 200, **ctx
) -> HTMLResponse:
    lang = lang_of(request)
    t = texts(lang)
    tz = zone(request.app.state.settings)

    def when(d: datetime | None) -> str:
        return d.astimezone(tz).strftime("%Y-%m-%d %H:%M") if d else ""

    def when_ts(ts: float | None) -> str:
        return when(datetime.fromtimestamp(ts, UTC)) if ts else ""

    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    context = {
        "t": t,
        "lang": lang,
        "session": session,
        "csrf": session.csrf if session else "",
        "here": here,
        "messages": _messages(request, t) + ctx.pop("messages", []),
        "when": when,
        "when_ts": when_ts,
        "cat": lambda c: category_label(t, c),
        "categories": CATEGORY_NAMES,
        "nav": ctx.pop("nav", ""),
        "pct": lambda v: "—" if v is None else f"{v * 100:.0f}%",
        "hours": lambda minutes: f"{(minutes or 0) / 60:.1f}",
    }
    context.update(ctx)
    html = env.get_template(template).render(**context)
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Cache-Control": "no-store",
            "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'self'; style-src 'self'; script-src 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'",
        },
    )


def message(
    request: Request,
    *,
    session: ConsoleSession | None,
    heading: str,
    body: str,
    status_code: int,
    back: str = "/console",
) -> HTMLResponse:
    return render(
        request, "message.html", session=session, status_code=status_code, heading=heading, body=body, back=back
    )


async def form_with_csrf(request: Request, session: ConsoleSession):
    """The submitted form, or None when its CSRF token is missing or wrong (the caller answers 403)."""
    form = await request.form()
    return form if csrf_ok(session, form.get("csrf")) else None


def csrf_refused(request: Request, session: ConsoleSession | None) -> HTMLResponse:
    t = texts(lang_of(request))
    return message(
        request,
        session=session,
        heading=t["csrf_title"],
        body=t["csrf_body"],
        status_code=403,
        back=request.headers.get("referer", "/console")
        if (request.headers.get("referer") or "").startswith(str(request.base_url))
        else "/console",
    )


def error_page(request: Request, session: ConsoleSession | None, exc: MadoguchiError, *, back: str) -> HTMLResponse:
    t = texts(lang_of(request))
    return message(
        request,
        session=session,
        heading=t["error_title"],
        body=exc.detail(lang_of(request)),
        status_code=exc.status_code,
        back=back,
    )


def admin_only(request: Request, session: ConsoleSession) -> HTMLResponse | None:
    """None for an admin; for a staff account the 403 page the admin-only pages (documents, staff) answer with."""
    if session.is_admin:
        return None
    t = texts(lang_of(request))
    return message(request, session=session, heading=t["forbidden_title"], body=t["forbidden_body"], status_code=403)
