"""HTTP routers: one per resource, each owning its prefix, collected in `app.api.router.api_router`. Validation and
translation only: the work happens in app.answer (asking) and the service layer app.ops (everything admin)."""
