"""The API's route class: a plain (``def``) route answers in the one thread its work already runs in.

FastAPI runs a ``def`` route in its thread pool, then — because the route is not a coroutine — hops to the
pool a second time to validate what the route returned against its response model, before serializing it.
A ``LeanRoute`` serializes the route's answer in the route's own thread instead, with the response model's
pydantic serializer (the same JSON, field for field: only the model's fields, by alias), and hands FastAPI a
finished ``Response``. The OpenAPI document does not change: the response model is still read from the
route's return annotation (FastAPI looks through the wrapper at the route's own signature).

A route is left as FastAPI makes it when it is a coroutine or a generator, names its own response class, takes
the ``Response`` to set a status or headers on, or asks for a filtered answer (``response_model_exclude…``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import Response
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.utils import get_typed_return_annotation, get_typed_signature
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

_FILTERS = ("response_model_include", "response_model_exclude", "response_model_exclude_unset",
            "response_model_exclude_defaults", "response_model_exclude_none")


def _model(endpoint: Callable[..., Any], options: dict[str, Any]) -> Any:
    """The response model the route answers with, or None when it is not one ``LeanRoute`` serializes."""
    if inspect.iscoroutinefunction(endpoint) or inspect.isgeneratorfunction(endpoint) \
            or inspect.isasyncgenfunction(endpoint) or getattr(endpoint, "_civicloud_lean", False):
        return None
    if not isinstance(options.get("response_class", DefaultPlaceholder(None)), DefaultPlaceholder):
        return None
    if any(options.get(name) for name in _FILTERS) or options.get("response_model_by_alias", True) is not True:
        return None
    status = options.get("status_code") or 200
    if status < 200 or status in (204, 304):
        return None
    if any(inspect.isclass(p.annotation) and issubclass(p.annotation, Response)
           for p in get_typed_signature(endpoint).parameters.values()):
        return None
    model = options.get("response_model", DefaultPlaceholder(None))
    if isinstance(model, DefaultPlaceholder):
        model = get_typed_return_annotation(endpoint)
    if model is None or (inspect.isclass(model) and issubclass(model, Response)):
        return None
    return model


def lean(endpoint: Callable[..., Any], options: dict[str, Any]) -> Callable[..., Any]:
    """``endpoint``, answering a finished JSON ``Response`` (status ``options["status_code"]``) when it can."""
    model = _model(endpoint, options)
    if model is None:
        return endpoint
    serializer = TypeAdapter(model)
    status = options.get("status_code") or 200

    @functools.wraps(endpoint)
    def answered(*args: Any, **kwargs: Any) -> Any:
        result = endpoint(*args, **kwargs)
        if isinstance(result, Response):
            return result
        return Response(serializer.dump_json(result, by_alias=True, warnings="error"), status_code=status,
                        media_type="application/json")

    answered._civicloud_lean = True  # type: ignore[attr-defined]
    return answered


class LeanRoute(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, lean(endpoint, options), **options)
