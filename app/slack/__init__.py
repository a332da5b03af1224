"""The Slack bot: Bolt listeners (`handlers`), Block Kit (`blocks`), the question's Slack life (`bot`), mounting
into the FastAPI app at `POST /slack/events` and Socket Mode (`mount`, `socket_mode`). See `manifest.yaml`."""
