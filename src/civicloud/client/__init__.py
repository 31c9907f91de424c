"""Typed HTTP client of the civicloud API, used by the CLI and the agent."""

from civicloud.client.http import AgentClient, ApiClient, ApiError

__all__ = ["AgentClient", "ApiClient", "ApiError"]
