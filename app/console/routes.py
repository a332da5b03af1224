"""Staff console routes: login/logout, language, static files and the dashboard; the other pages live in
`pages_unresolved.py` (「未解決の質問」), `pages_queries.py` (the query log), `pages_documents.py`, `pages_faq.py` and
`pages_glossary.py` (「社内用語」), `pages_webhooks.py` (「Webhook 配信履歴」), `pages_adapter.py` (「検索の学習」),
`pages_users.py` (「スタッフ」) and `pages_audit.py` (「変更履歴」).
Every page is a thin adapter over the service layer (app/ops/), like the admin API."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, RedirectResponse, Response

from app.api.deps import ServicesDep, admin_tokens
from app.clock import zone
from app.console import (
    pages_adapter,
    pages_audit,
    pages_documents,
    pages_faq,
    pages_glossary,
    pages_queries,
    pages_report,
    pages_unresolved,
    pages_users,
    pages_webhooks,
)
from app.console.charts import bar_chart, category_chart, rate_chart, volume_chart
from app.console.i18n import category_label, texts
from app.console.session import (
    LANG_COOKIE,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    SessionDep,
    console_enabled,
    end_session,
    new_session_cookie,
    read_session,
    safe_next,
    session_seconds,
    set_cookie,
)
from app.console.web import HERE, csrf_refused, error_page, form_with_csrf, lang_of, render
from app.errors import MadoguchiError, RateLimitedError
from app.ops import accounts, adapt, review

router = APIRouter(prefix="/console", include_in_schema=False)
STATIC = {"console.css": "text/css; charset=utf-8"}


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in STATIC:
        return Response(status_code=404)
    return FileResponse(HERE / "static" / name, media_type=STATIC[name], headers={"Cache-Control": "max-age=3600"})


@router.get("/login")
def login_page(request: Request, next: str | None = None, bad: int = 0):
    if read_session(request) is not None and not bad:
        return RedirectResponse(safe_next(next), status_code=303)
    token = secrets.token_urlsafe(24)
    resp = render(
        request,
        "login.html",
        session=None,
        enabled=console_enabled(request),
        login_csrf=token,
        next=safe_next(next),
        bad=bool(bad),
        status_code=401 if bad else 200,
    )
    set_cookie(request, resp, LOGIN_CSRF_COOKIE, token, max_age=3600)
    return resp


@router.post("/login")
async def login(request: Request):
    form = await request.form()
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    sent = form.get("csrf")
    if not expected or not isinstance(sent, str) or not secrets.compare_digest(sent, expected):
        return csrf_refused(request, None)
    sent_next = form.get("next")
    target = safe_next(sent_next if isinstance(sent_next, str) else None)
    name, secret = form.get("name"), form.get("token")  # `token`: the password, or the admin token with no name
    services = getattr(request.app.state, "services", None)
    if not console_enabled(request) or services is None or not isinstance(secret, str):
        return RedirectResponse(f"/console/login?bad=1&next={quote(target, safe='')}", status_code=303)
    try:
        actor = await run_in_threadpool(
            accounts.login,
            services.require_log(),
            services.settings,
            name=name if isinstance(name, str) else "",
            password=secret,
            ip=request.client.host if request.client else None,
            shared_tokens=admin_tokens(request),
        )
    except RateLimitedError as exc:
        page = error_page(request, None, exc, back="/console/login")
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except MadoguchiError:
        return RedirectResponse(f"/console/login?bad=1&next={quote(target, safe='')}", status_code=303)
    resp = RedirectResponse(target, status_code=303)
    cookie = await run_in_threadpool(new_session_cookie, request, actor)
    set_cookie(request, resp, SESSION_COOKIE, cookie, max_age=session_seconds(request))
    resp.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return resp


@router.post("/logout")
async def logout(request: Request, session: SessionDep):
    if await form_with_csrf(request, session) is None:
        return csrf_refused(request, session)
    await run_in_threadpool(end_session, request, session)
    resp = RedirectResponse("/console/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/console")
    return resp


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str | None = None):
    resp = RedirectResponse(safe_next(next), status_code=303)
    if code in ("ja", "en"):
        set_cookie(request, resp, LANG_COOKIE, code, max_age=365 * 86400, http_only=False)
    return resp


def _labels(buckets: list[dict], bucket: str) -> list[str]:
    out = []
    for b in buckets:
        year, month, day = b["start"][:4], b["start"][5:7], b["start"][8:10]
        if bucket == "month":
            out.append(f"{year}/{int(month)}")
            continue
        out.append(f"{int(month)}/{int(day)}" + ("~" if bucket == "week" else ""))
    return out


def dashboard_charts(stats: dict, t: dict) -> dict:
    buckets = stats["buckets"]
    labels = _labels(buckets, stats["bucket"])
    names = {"answered": t["answered"], "escalated": t["escalated"], "deflection_rate": t["self_resolution_rate"]}
    cats = sorted(stats["categories"].items(), key=lambda kv: -kv[1]["questions"])
    return {
        "volume": volume_chart(buckets, labels=labels, title=t["chart_volume"], names=names),
        "categories": category_chart(
            [(category_label(t, c), v["answered"], v["escalated"]) for c, v in cats],
            title=t["chart_categories"],
            names=names,
        ),
        "helpful": rate_chart(
            [b["helpful_rate"] for b in buckets], labels=labels, title=t["chart_helpful"], name=t["helpful_rate"]
        ),
        "saved": bar_chart(
            [b["staff_minutes_saved"] for b in buckets],
            labels=labels,
            title=t["chart_saved"],
            name=t["staff_time_saved"],
            unit=t["minutes"],
        ),
    }


def faq_todo(services) -> dict:
    """FAQ work waiting for the staff: entries flagged 要確認, proposed wordings (0 when unavailable)."""
    from app.ops import faq_citations, wordings

    try:
        return {
            "review": len(faq_citations.needs_review(services)),
            "proposals": len(wordings.list_proposals(services)),
        }
    except MadoguchiError:
        return {"review": 0, "proposals": 0}


def calibration_view(services) -> dict | None:
    """The confidence calibration the server answers with (app/ops/calibration.py), for the dashboard card."""
    cal = services.calibration
    if cal is None:
        return None
    return {
        "threshold": f"{cal.threshold:.2f}",
        "made": cal.made[:16].replace("T", " "),
        "questions": cal.questions,
        "source": cal.source,
        "profile": services.settings.profile,
        "fitted": bool(cal.x),
        "current": cal.matches(services.settings),
        "override": cal.threshold_from_setting,
    }


@router.get("")
async def dashboard(request: Request, services: ServicesDep, session: SessionDep) -> Response:
    p = request.query_params
    today = datetime.now(zone(services.settings)).date()
    to = p.get("to") or today.isoformat()
    from_ = p.get("from") or (today - timedelta(days=29)).isoformat()
    bucket = p.get("bucket") or "day"
    if bucket not in ("day", "week", "month"):
        bucket = "day"
    if bucket == "month" and not p.get("from"):  # 月次: the last twelve months
        from_ = today.replace(day=1, year=today.year - 1).isoformat()
    try:
        stats = await run_in_threadpool(review.stats, services, since=from_, until=to, bucket=bucket)
        adapter = (await run_in_threadpool(adapt.status, services))["active"]
    except MadoguchiError as exc:
        return error_page(request, session, exc, back="/console")
    t = texts(lang_of(request))
    return render(
        request,
        "dashboard.html",
        session=session,
        nav="dashboard",
        totals=stats["totals"],
        charts=dashboard_charts(stats, t),
        from_=from_,
        to=to,
        bucket=bucket,
        minutes=f"{services.settings.minutes_per_inquiry:g}",
        faq_todo=await run_in_threadpool(faq_todo, services),
        adapter=adapter,
        yen=f"{services.settings.staff_hourly_cost_yen:,.0f}",
        mins=lambda v: "—" if v is None else f"{v:.0f} {t['minutes']}",
        report_month=today.strftime("%Y-%m"),
        calibration=calibration_view(services),
    )


for _pages in (
    pages_unresolved,
    pages_queries,
    pages_documents,
    pages_faq,
    pages_glossary,
    pages_adapter,
    pages_webhooks,
    pages_users,
    pages_audit,
    pages_report,
):
    router.include_router(_pages.router)
