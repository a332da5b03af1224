"""The only reader of the environment: every setting lives on one `Settings` object.

Settings are built by `get_settings()` at each entry point (CLI, server, tests) and passed down;
nothing reads the environment at import time. Environment variables use the prefix `MADOGUCHI_`
(Slack's own variables keep Slack's names) and a `.env` file in the working directory is read.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.errors import ConfigError

DEFAULT_CATEGORY_PATTERNS: dict[str, str] = {
    "*勤怠*": "attendance",
    "*就業*": "attendance",
    "*休暇*": "attendance",
    "*休業*": "attendance",
    "*経費*": "expense",
    "*旅費*": "expense",
    "*賃金*": "expense",
    "*備品*": "supplies",
}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MADOGUCHI_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,  # overrides by field name (e.g. llm_api_key=...) work beside the env aliases
    )

    # --- storage ---
    data_dir: Path = Field(
        Path("./data"), description="Where the embedded Chroma store, the query log and run files live."
    )
    docs_dir: Path = Field(
        Path("./examples/manuals"), description="The folder of manuals that `POST /api/admin/ingest` re-ingests."
    )
    chroma_url: str | None = Field(
        None,
        description="Chroma server URL (e.g. http://chroma:8000). Unset: embedded PersistentClient under data_dir.",
    )
    collection: str = Field("madoguchi", description="Chroma collection name prefix.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the query log (PostgreSQL in production). Unset: SQLite in data_dir."
    )

    # --- retrieval ---
    profile: str = Field(
        "offline",
        description="Model profile (app/data/profiles.yaml): `offline`, `ja-quality` or `llm`. It fills the embedder, reranker and LLM settings that are not set explicitly.",
    )
    models_dir: Path | None = Field(
        None,
        description="Folder of models downloaded by `madoguchi models fetch` (DIR/<org>/<name>); a Hugging Face id is loaded from there. Nothing is downloaded at run time.",
    )
    embedder: str = Field(
        "use-m3", description="Embedding backend: `use-m3` or `sentence-transformers:<name or path>`."
    )
    model_device: str = Field(
        "cpu",
        description="Where sentence-transformers embedders and cross-encoders run: `cpu`, `cuda`, `cuda:1`, `mps` (use-m3 always runs on the CPU).",
    )
    reranker: str = Field(
        "none",
        description="Second-stage reranker: `none` or `cross-encoder:<name or path>` (a sentence-transformers CrossEncoder) over the first `MADOGUCHI_RERANK_TOP_N` passages.",
    )
    rerank_top_n: int = Field(20, ge=1, le=100, description="How many ranked passages the reranker scores.")
    rerank_timeout_ms: int = Field(
        2000,
        ge=1,
        description="Longest wait for the reranker; past it the answer keeps the learned ranker's order and the query log says `rerank: timeout`.",
    )
    calibration_file: Path | None = Field(
        None,
        description="The confidence calibration `madoguchi calibrate` writes and the server loads at start-up. Unset: calibration.json in data_dir, else the profile's shipped calibration. MADOGUCHI_CONFIDENCE_THRESHOLD, when set, overrides its threshold.",
    )
    embedder_threads: int = Field(
        2, ge=1, description="Threads for the embedding forward pass (at most the CPU count)."
    )
    dense_search: str = Field(
        "memory", description="`memory` (exact search over the loaded vectors) or `chroma` (Chroma's HNSW query)."
    )
    category_patterns: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_CATEGORY_PATTERNS),
        description="Glob on the file path → category (attendance|expense|supplies|other), as JSON. Front matter `category:` wins.",
    )
    glossary_file: Path | None = Field(
        None,
        description="A TSV of company words the deployment keeps in a file: `word<TAB>formal terms` per line (`#` comments). They add to the default list; the staff's 社内用語 page overrides both.",
    )
    top_k: int = Field(5, ge=1, le=50, description="How many sources an answer returns.")
    confidence_threshold: float = Field(
        0.75,
        ge=0.0,
        le=1.0,
        description="Below this confidence (the calibrated probability that the answer is right) the question is escalated to the staff. Default: the trained rule in eval/training/REPORT.md, as stored in the calibration (`madoguchi calibrate`); set explicitly, it overrides the calibration's threshold.",
    )
    refresh_interval_s: float = Field(
        2.0, gt=0, description="How often a server checks the shared store for a newer corpus version."
    )
    max_question_chars: int = Field(2000, description="Longest question accepted.")

    # --- serving ---
    host: str = Field("127.0.0.1", description="`madoguchi serve` bind address.")
    port: int = Field(8000, description="`madoguchi serve` port.")
    admin_token: str | None = Field(
        None,
        description="Shared bearer token for /api/admin/* and the console (automation and first setup; at least 16 characters). Staff sign in with their own accounts (`madoguchi users add`). Unset: admin routes are off except for personal tokens.",
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        description="Failed console logins one account may have within `MADOGUCHI_LOGIN_WINDOW_S` before further attempts are refused (429 with the wait time); counted in the database, so every replica shares it.",
    )
    login_max_failures_per_ip: int = Field(
        20, ge=1, description="The same limit per client address (several staff may share one office address)."
    )
    login_window_s: int = Field(300, ge=10, description="The window of the login limits, in seconds.")
    session_hours: float = Field(
        12.0, gt=0, le=24 * 30, description="How long a console login lasts (sessions are kept in the database)."
    )
    max_request_bytes: int = Field(
        64 * 1024,
        ge=1024,
        validation_alias=AliasChoices("MADOGUCHI_MAX_REQUEST_BYTES", "MADOGUCHI_MAX_BODY_BYTES"),
        description="Largest request body of the public routes (`/api/ask`, `/api/feedback`, `/slack/events`); a larger one is refused with 413 before it is read. Admin and console forms take up to 1 MiB (or this, when larger).",
    )
    max_upload_bytes: int = Field(
        50 * 1024 * 1024,
        ge=1024,
        description="Largest upload (the whole request body, and each file in it) to `POST /api/admin/ingest`, `POST /api/admin/faq/import` and the console's upload and import forms; 413 before it is read.",
    )
    rate_limit_per_minute: int = Field(
        30,
        ge=0,
        description="Questions one asker (the `user_id`, else the client address; Slack: the Slack user) may send per minute to `/api/ask` or the Slack bot, and feedback clicks per client to `/api/feedback`, as token buckets in each server process (or shared: MADOGUCHI_RATE_LIMIT_SHARED); more get 429 with `Retry-After` (Slack: a polite reply). 0: no limit.",
    )
    rate_limit_shared: bool = Field(
        False,
        description="Keep the rate-limit buckets in the query log database, so replicas behind a load balancer share them (one short write per question and per feedback click). Off: each server process counts alone.",
    )
    log_retention_days: int | None = Field(
        None,
        description="Questions (with answers, user ids, feedback and Slack metadata) older than this many days are deleted from the query log at start-up, every hour, and by `madoguchi purge`; their counts stay in the monthly aggregates of the stats. Unset: kept. 0 is refused.",
    )
    adapter_refresh_seconds: float = Field(
        10.0,
        ge=0,
        description="How often each server checks which query adapter version is active (`madoguchi adapt`, rollback), so every replica follows within this time.",
    )
    adapt_min_new_pairs: int = Field(
        0,
        ge=0,
        description="Retrain the query adapter in the background once this many new training pairs (staff answers with a cited article, 解決した/解決しない on answers, FAQ entries) arrived since the last training; checked every `MADOGUCHI_ADAPT_CHECK_MINUTES`. 0: only by `madoguchi adapt` or the console.",
    )
    adapt_check_minutes: float = Field(60.0, gt=0, description="Interval of the background adapter check.")
    minutes_per_inquiry: float = Field(5.0, description="Staff minutes an answered question saves (for the stats).")
    staff_hourly_cost_yen: float = Field(
        3000.0,
        ge=0,
        description="Cost of one staff hour in 円: the stats and the monthly report show the time saved as money.",
    )
    timezone: str = Field(
        "Asia/Tokyo",
        description="Time zone of the stats' day/week/month buckets, the monthly report, date filters, the console's times and the Japanese CSV.",
    )

    # --- after an escalation: what the asker is told, the outgoing webhook ---
    public_url: str | None = Field(
        None,
        description="The server's URL as staff open it (e.g. https://madoguchi.example.co.jp): the 「コンソールで開く」 button of staff-channel posts links there. Unset: no button.",
    )
    business_hours: str | None = Field(
        None, description="When the staff answer, shown as is in escalation replies (e.g. 平日 9–18 時)."
    )
    urgent_contact: str | None = Field(
        None, description="Whom to contact when it is urgent, shown as is in escalation replies (e.g. 内線 1234)."
    )
    webhook_url: str | None = Field(
        None,
        description="Outgoing webhook: `question.escalated` and `question.resolved` are POSTed here as signed JSON (README: Webhook). Unset: off.",
    )
    webhook_secret: str | None = Field(
        None, description="Secret of the webhook's HMAC-SHA256 signature (`X-Madoguchi-Signature`)."
    )
    webhook_max_attempts: int = Field(5, ge=1, le=20, description="Attempts per webhook event before it is given up.")
    webhook_backoff_s: float = Field(
        2.0, gt=0, description="Wait before the 2nd webhook attempt; doubled before each further one."
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="Timeout of one webhook request in seconds.")

    # --- LLM (optional) ---
    llm: str = Field("none", description="`none` (extractive answers), `openai` or `ollama`.")
    llm_model: str = Field("gpt-4o-mini", description="Chat model name for the LLM backend.")
    llm_base_url: str | None = Field(None, description="Base URL of the OpenAI-compatible or Ollama server.")
    llm_api_key: str | None = Field(
        None,
        validation_alias=AliasChoices("MADOGUCHI_LLM_API_KEY", "OPENAI_API_KEY"),
        description="API key for the LLM (or OPENAI_API_KEY).",
    )
    llm_timeout_s: float = Field(30.0, description="LLM request timeout in seconds.")

    # --- Slack ---
    slack_bot_token: str | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_BOT_TOKEN", "MADOGUCHI_SLACK_BOT_TOKEN"),
        description="Bot token (xoxb-…).",
    )
    slack_signing_secret: str | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_SIGNING_SECRET", "MADOGUCHI_SLACK_SIGNING_SECRET"),
        description="Signing secret for the HTTP Events API.",
    )
    slack_app_token: str | None = Field(
        None,
        validation_alias=AliasChoices("SLACK_APP_TOKEN", "MADOGUCHI_SLACK_APP_TOKEN"),
        description="App-level token (xapp-…): turns on Socket Mode.",
    )
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (tests and staging point it elsewhere)."
    )
    slack_escalation_channel: str | None = Field(
        None, description="Channel id where escalated questions are posted for the staff."
    )
    slack_staff_group: str | None = Field(
        None, description="User group id mentioned in escalation posts (e.g. S0123ABC)."
    )
    slack_slash_public: bool = Field(False, description="Post /faq answers publicly instead of only to the asker.")

    @field_validator("log_retention_days")
    @classmethod
    def _retention_positive(cls, value: int | None) -> int | None:
        if value is not None and value < 1:
            raise ConfigError(
                f"MADOGUCHI_LOG_RETENTION_DAYS must be at least 1 (got {value}); leave it unset to keep the log.",
                f"MADOGUCHI_LOG_RETENTION_DAYS は 1 以上で指定してください（{value} が指定されました）。記録を消さない場合は未設定にします。",
            )
        return value

    @model_validator(mode="after")
    def _apply_profile(self) -> Settings:
        from app.profiles import apply_profile  # the profile file is data (app/data/profiles.yaml)

        apply_profile(self)
        return self

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'madoguchi.db').resolve()}"


def get_settings(**overrides) -> Settings:
    """Build the settings from the environment (and `.env`), with explicit overrides on top."""
    return Settings(**overrides)
