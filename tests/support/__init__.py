"""Test helpers (no tests here). Fakes stand only at the network edge:

- `slack_api`: a real local HTTP server standing in for Slack's Web API, response_url webhooks and Socket Mode.
- `llm_servers`: real local HTTP servers standing in for an OpenAI-compatible API and Ollama.
- `querylog`: a tiny corpus, real services over it, seeded query-log rows, the app served by uvicorn.

Fixtures that use them live in tests/conftest.py.
"""
