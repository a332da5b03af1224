"""HTTP routers: one per resource, validation only; the work happens in app.answer and ingest."""
