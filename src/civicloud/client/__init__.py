"""Typed HTTP client of the civicloud API, used by the CLI and the agent."""

from civicloud.client.http import (
    AgentClient,
    ApiClient,
    ApiConflict,
    ApiError,
    ApiForbidden,
    ApiInternal,
    ApiInvalid,
    ApiNotFound,
    ApiRateLimited,
    ApiTooLarge,
    ApiUnauthorized,
    ApiUnavailable,
    ApiUnsupportedMediaType,
    api_error,
)

__all__ = ["AgentClient", "ApiClient", "ApiConflict", "ApiError", "ApiForbidden", "ApiInternal", "ApiInvalid",
           "ApiNotFound", "ApiRateLimited", "ApiTooLarge", "ApiUnauthorized", "ApiUnavailable",
           "ApiUnsupportedMediaType", "api_error"]
