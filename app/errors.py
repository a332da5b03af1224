"""One small error hierarchy. Every error carries a code and a bilingual message for the user."""

from __future__ import annotations


class MadoguchiError(Exception):
    """Base error. `code` is machine-readable; `detail_ja` / `detail_en` tell the user what to do."""

    code = "error"
    status_code = 500

    def __init__(self, detail_en: str, detail_ja: str | None = None, *, code: str | None = None):
        super().__init__(detail_en)
        self.detail_en = detail_en
        self.detail_ja = detail_ja or detail_en
        if code:
            self.code = code

    def detail(self, lang: str = "ja") -> str:
        return self.detail_ja if lang == "ja" else self.detail_en


class ConfigError(MadoguchiError):
    code = "config_error"
    status_code = 500


class IngestError(MadoguchiError):
    code = "ingest_error"
    status_code = 422


class NotReadyError(MadoguchiError):
    code = "not_ready"
    status_code = 503


class StoreUnavailableError(MadoguchiError):
    code = "store_unavailable"
    status_code = 503


class QueryLogError(MadoguchiError):
    code = "query_log_unavailable"
    status_code = 503


class NotFoundError(MadoguchiError):
    code = "not_found"
    status_code = 404


class BadRequestError(MadoguchiError):
    code = "bad_request"
    status_code = 422


class AuthError(MadoguchiError):
    code = "unauthorized"
    status_code = 401


class ForbiddenError(MadoguchiError):
    """Signed in, but this account's role may not do this (a staff account on an admin-only route)."""

    code = "forbidden"
    status_code = 403


class PayloadTooLargeError(MadoguchiError):
    code = "payload_too_large"
    status_code = 413


class RateLimitedError(MadoguchiError):
    """Too many requests from one asker; `retry_after` is the whole seconds until the next one is let through."""

    code = "rate_limited"
    status_code = 429

    def __init__(self, detail_en: str, detail_ja: str | None = None, *, retry_after: int) -> None:
        super().__init__(detail_en, detail_ja)
        self.retry_after = retry_after
