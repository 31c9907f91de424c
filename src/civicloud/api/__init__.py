"""FastAPI routers over the services; errors leave as stable codes."""

from civicloud.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
