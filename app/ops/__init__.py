"""The service layer: what the staff and admins do, below HTTP.

The API routers (app/api/) and the console pages (app/console/) are thin adapters over these modules; the
modules take `Services` (or the components they need) and plain values, return plain values, and raise
`MadoguchiError`s. They never see a `Request` or a `Response`.

- `documents`: upload (a batch checked whole before any file is written), ingest, re-ingest, the document list and the last ingest.
- `review`: the query log's admin side — filters, pages, the CSV export, stats.
- `unresolved`: 「未解決の質問」 — escalated or unhelpful questions nobody has answered, grouped by meaning.
- `resolutions`: the staff answer a question: record it, relay it to the asker, optionally save an FAQ entry.
- `faq`: FAQ entries (the database is the truth, the chunk store the searchable copy), import and export.
- `faq_files`: FAQ entries as CSV / XLSX files.
- `glossary`: the company vocabulary (社内用語) — the staff's words beside the default list and the deployment's file.
- `follow_up`: the HTTP asker reads a question's status and staff answer with its follow-up token.
- `events`: escalations and resolutions from every channel reach the outgoing webhook and the escalation hooks.
- `webhooks`: the signed outgoing webhook, its retries and its delivery log; `verify_signature` for receivers.
"""
