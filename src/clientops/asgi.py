"""ASGI entry for multi-worker servers: ``uvicorn clientops.asgi:app``."""

from clientops.main import create_app

app = create_app()
