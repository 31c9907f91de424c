"""The control plane's web application: ``create_app(settings)`` wires everything."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Literal

from fastapi import FastAPI

from civicloud import __version__
from civicloud.api import errors, middleware, routes
from civicloud.api.routing import LeanRoute
from civicloud.clock import Clock, IdSource, random_ids, system_clock
from civicloud.domain import events
from civicloud.services.loops import PlacementLoop
from civicloud.services.placement import PlacementSettings
from civicloud.services.rate_limits import RateLimiter
from civicloud.settings import Settings
from civicloud.store import Engine, SqlUnitOfWork, make_engine, wakeups

API_PREFIX = "/api/v1"


def create_app(settings: Settings, *, engine: Engine | None = None, background: bool = True,
               clock: Clock = system_clock, new_id: IdSource = random_ids,
               control_loop: Literal["thread", "process"] = "thread") -> FastAPI:
    """Build the app. ``background=False`` leaves the placement loop to the caller (tests). ``clock`` and
    ``new_id`` are the one notion of now and of new ids of everything the app does (``civicloud.clock``):
    tests and the simulator pass a frozen or stepping clock. ``control_loop="process"``: the loop runs in a
    process of its own (``civicloud server``), which the app's commits wake (``store.wakeups``)."""
    engine = engine or make_engine(settings.resolved_database_url(), echo=settings.sql_echo)

    listeners: dict[str, Callable[[], None]] = {}
    notify = control_loop == "process" and wakeups.uses_notify(engine)

    def uow_factory() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine, clock, new_id, listeners, notify=notify)

    placer = PlacementLoop(uow_factory, PlacementSettings.of(settings), interval_s=settings.placement_interval_s)
    # What the services signal when they commit: room that may fit a pending workload wakes the control loop —
    # this process's thread, or the loop's process (a NOTIFY in the transaction, or a datagram after it).
    if control_loop == "thread":
        listeners[events.ROOM_CHANGED] = placer.wake
    elif not notify:
        listeners[events.ROOM_CHANGED] = wakeups.LocalWaker(wakeups.socket_path(settings.data_dir))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if background and control_loop == "thread":
            placer.start()
        try:
            yield
        finally:
            placer.stop()

    app = FastAPI(
        title="civicloud",
        version=__version__,
        description="Community cloud for local public bodies: members lend the surplus of their "
                    "virtualisation hosts to each other, metered and billed at cost.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.router.route_class = LeanRoute  # the app's own routes (healthz) answer as the routers' do
    app.state.settings = settings
    app.state.engine = engine
    app.state.uow_factory = uow_factory
    app.state.placer = placer
    # Counted in the database (services/rate_limits.py), so the limits hold across replicas.
    app.state.login_limiter = RateLimiter(uow_factory)
    app.state.token_limiter = RateLimiter(uow_factory, settings.token_requests_per_minute, 60.0,
                                          "too many requests with this API token; slow down")
    app.state.clock = clock
    errors.install(app)
    # Outermost last: headers on every answer, the client's address, the body's size and type, then one
    # transaction per change (with its audit entry and the Idempotency-Key answer the route's guard claimed).
    app.add_middleware(middleware.RequestTransaction, engine=engine, clock=clock, new_id=new_id)
    app.add_middleware(middleware.BodyLimit)
    app.add_middleware(middleware.ClientAddress, trusted=settings.trusted_proxies)
    app.add_middleware(middleware.SecurityHeaders)
    for router in routes.ROUTERS:
        app.include_router(router, prefix=API_PREFIX)

    @app.get(f"{API_PREFIX}/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    unruled = unguarded_routes(app)
    app.openapi_schema = None  # built for the check; built again on first use, with everything
    if unruled:  # every route answers to an authorization rule, or the app does not start
        raise RuntimeError("routes without an operation in api/operations.py, or whose operation has no rule in "
                           f"services/access.py: {', '.join(unruled)}")

    return app


def worker_app() -> FastAPI:
    """An API worker of ``civicloud server`` (uvicorn's factory): its settings from the environment, the control
    loop in the server's own process."""
    return create_app(Settings(), control_loop="process")


def unguarded_routes(app: FastAPI) -> list[str]:
    """'METHOD /route' of every API route that is no operation of ``api.operations``, or whose operation has no
    rule in ``services.access.OPERATIONS``."""
    from civicloud.api.operations import OPEN_ROUTES, ROUTE_OPERATIONS
    from civicloud.services.access import OPERATIONS

    missing = []
    for path, item in app.openapi()["paths"].items():
        relative = path.removeprefix(API_PREFIX)
        if relative.startswith("/agent/") or relative == "/healthz":
            continue
        for method in item:
            key = (method.upper(), relative)
            if key in OPEN_ROUTES:
                continue
            if ROUTE_OPERATIONS.get(key) not in OPERATIONS:
                missing.append(f"{key[0]} {path}")
    return missing
