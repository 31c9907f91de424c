"""Long-running commands: the control plane and the agent."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from civicloud.errors import Conflict, InvalidInput, Unavailable
from civicloud.settings import Settings

if TYPE_CHECKING:  # imported where used, so that the CLI starts without them
    from civicloud.agent.drivers.images import GuestImages
    from civicloud.store import Engine


def run_server(settings: Settings, *, migrate: bool) -> None:
    """The control plane: the control loop in a process of its own, and the API served by
    ``settings.api_workers`` uvicorn worker processes; stopped together by SIGTERM or Ctrl-C."""
    import multiprocessing
    import os

    import uvicorn

    from civicloud.store import is_up_to_date, make_engine, upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url(), echo=settings.sql_echo)
    if migrate:
        upgrade(engine)
    elif not is_up_to_date(engine):
        raise Conflict("the database schema is not up to date; run 'civicloud db upgrade' or start the server "
                       "with --migrate", code="civicloud.store.needs_migration")
    refuse_open_api(settings, engine)
    engine.dispose()
    # The workers read their settings from the environment (api.app.worker_app): what the command line gave too.
    os.environ.update({"CIVICLOUD_DATA_DIR": str(settings.data_dir), "CIVICLOUD_BIND_HOST": settings.bind_host,
                       "CIVICLOUD_BIND_PORT": str(settings.bind_port)})
    loop = multiprocessing.get_context("spawn").Process(target=run_control_loop, args=(settings, os.getpid()),
                                                        name="civicloud-control-loop")
    loop.start()
    try:
        serve_workers(uvicorn.Config("civicloud.api.app:worker_app", factory=True, workers=settings.api_workers,
                                     host=settings.bind_host, port=settings.bind_port, log_level="info",
                                     proxy_headers=False, **settings.ssl_options()))
    finally:
        loop.terminate()  # SIGTERM: the loop finishes its pass and leaves
        loop.join(30)
        if loop.is_alive():
            loop.kill()
            loop.join(5)


def tcp_listener(bound: Any) -> Any:
    """The same listening socket, its protocol stated as TCP (see ``serve_workers``)."""
    import socket

    tcp = socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())
    tcp.set_inheritable(True)
    return tcp


def serve_workers(config: Any) -> None:
    """What ``uvicorn.run`` does, with the workers' listener stated as TCP.

    uvicorn binds the listener it hands its worker processes with protocol 0, and asyncio turns Nagle's
    algorithm off (TCP_NODELAY) only on sockets that say IPPROTO_TCP; the connections the workers accepted
    then waited on the client's delayed ACK: ~45 ms on every keep-alive request after the first (measured:
    a POST took 52 ms with 2 workers, 7 ms with 1; uvicorn issue #3149). The same listener, its protocol
    stated, is what every accepted connection inherits."""
    from uvicorn import Server
    from uvicorn.supervisors import Multiprocess

    server = Server(config=config)
    if config.workers <= 1:
        config.load_app()
        server.run()
        if not server.started:
            raise Unavailable("the API did not start; see the log above", code="civicloud.server.start_failed")
        return
    tcp = tcp_listener(config.bind_socket())
    try:
        Multiprocess(config, sockets=[tcp]).run()
    except KeyboardInterrupt:
        pass
    finally:
        tcp.close()


def run_control_loop(settings: Settings, parent: int) -> None:
    """The control loop's process: reclaim, placement and the usage roll-up, woken by the API's commits
    (``store.wakeups``: LISTEN/NOTIFY on PostgreSQL, a Unix socket on SQLite) or its interval; it leaves on
    SIGTERM or SIGINT, or when the server that started it is gone."""
    import logging
    import os

    from civicloud.domain import events
    from civicloud.services.loops import PlacementLoop
    from civicloud.services.placement import PlacementSettings
    from civicloud.store import SqlUnitOfWork, make_engine, wakeups

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    engine = make_engine(settings.resolved_database_url(), echo=settings.sql_echo)
    listeners: dict[str, Callable[[], None]] = {}
    loop = PlacementLoop(lambda: SqlUnitOfWork(engine, listeners=listeners), PlacementSettings.of(settings),
                         interval_s=settings.placement_interval_s, min_gap_s=settings.placement_min_gap_s)
    listeners[events.ROOM_CHANGED] = loop.wake  # its own commits (a release) wake it too
    listener = wakeups.listener_for(engine, settings.data_dir, (events.ROOM_CHANGED,))

    def wait(timeout: float) -> bool:
        if os.getppid() != parent:  # the server was killed without a chance to stop this process
            stop.set()
            return True
        return listener.wait(timeout)

    try:
        loop.run_forever(stop, wait)
    finally:
        listener.close()
        engine.dispose()


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def refuse_open_api(settings: Settings, engine: Engine) -> None:
    """A server with neither users nor CIVICLOUD_API_TOKEN answers anyone as the operator (the fresh server's
    open mode, for 'admin bootstrap'): it may only listen on loopback."""
    from civicloud.services.identity import users_exist
    from civicloud.store import SqlUnitOfWork

    if settings.bind_host in LOOPBACK or settings.api_token or users_exist(SqlUnitOfWork(engine)):
        return
    raise InvalidInput(f"refusing to serve on {settings.bind_host}: this server has no user and no "
                       "CIVICLOUD_API_TOKEN, so anyone reaching it would act as the operator; run 'civicloud admin "
                       "bootstrap' first (or set CIVICLOUD_API_TOKEN)", code="civicloud.server.open_api", field="host")


def parse_hosts(uris: list[str], named: list[str]) -> list[tuple[str | None, str]]:
    hosts: list[tuple[str | None, str]] = [(None, uri) for uri in uris]
    for item in named:
        name, sep, uri = item.partition("=")
        if not sep or not name or not uri:
            raise InvalidInput(f"--host takes NAME=URI, e.g. hv1=qemu:///system, not {item!r}",
                               code="civicloud.agent.invalid_host", field="host")
        hosts.append((name, uri))
    if not hosts:
        raise InvalidInput("give the agent a host to drive: --libvirt-uri URI or --host NAME=URI",
                           code="civicloud.agent.no_host")
    return hosts


@dataclass(frozen=True)
class AgentOptions:
    guest_dir: Path | None = None
    images: list[str] = field(default_factory=list)  # OFFERING=PATH
    domain_type: str = "auto"
    shutdown_timeout_s: float = 30.0
    sample_interval_s: float = 60.0
    ca_file: Path | None = None  # the control plane's CA certificate, when it is a private one
    tunnel_ip: str | None = None  # program the host's tenant networks, VXLAN from this underlay address
    underlay_mtu: int = 1500


def guest_images(state_dir: Path, options: AgentOptions) -> GuestImages:
    from civicloud.agent.drivers.images import BootImage, GuestImages

    if options.domain_type not in ("auto", "kvm", "qemu"):
        raise InvalidInput(f"--domain-type is kvm, qemu or auto, not {options.domain_type!r}",
                           code="civicloud.agent.invalid_domain_type", field="domain_type")
    per_offering = {}
    for item in options.images:
        offering, sep, path = item.partition("=")
        if not sep or not offering or not path:
            raise InvalidInput(f"--image takes OFFERING=PATH, e.g. vm.small=/var/lib/images/debian.qcow2, not {item!r}",
                               code="civicloud.agent.invalid_image", field="image")
        per_offering[offering] = BootImage(Path(path))
    default = BootImage.test_guest(options.guest_dir) if options.guest_dir else None
    return GuestImages(state_dir, default, per_offering)


def _tunnel_ip(text: str) -> str:
    import ipaddress

    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        raise InvalidInput(f"--tunnel-ip is the host's IPv4 address on the sites' underlay, not {text!r}",
                           code="civicloud.agent.invalid_tunnel_ip", field="tunnel_ip") from None


BRIDGE_FILTERING = Path("/proc/sys/net/bridge/bridge-nf-call-iptables")


def require_bridge_filtering(probe: Path = BRIDGE_FILTERING) -> None:
    """The security groups need the kernel's br_netfilter (civicloud switches it on per bridge, for its own
    bridges only): refuse to program tenant networks without it rather than leave their ports unguarded."""
    if not probe.exists():
        raise InvalidInput("tenant networks need the kernel's br_netfilter for their security groups: run "
                           "'modprobe br_netfilter' (and add it to /etc/modules-load.d/); civicloud turns it on for "
                           "its own bridges only, so set net.bridge.bridge-nf-call-iptables=0 if your own bridges "
                           "must not pass through iptables (loading the module turns it on for all of them)",
                           code="civicloud.agent.no_bridge_filtering", field="tunnel_ip")


def run_agent(server: str, join_token: str | None, uris: list[str], named: list[str], state_dir: Path,
              interval: float, once: bool, options: AgentOptions | None = None) -> None:
    from civicloud.agent.drivers import open_driver
    from civicloud.agent.runner import Agent

    options = options or AgentOptions()
    images = guest_images(state_dir, options)
    drivers = [open_driver(uri, name, images=images, domain_type=options.domain_type,
                           shutdown_timeout_s=options.shutdown_timeout_s) for name, uri in parse_hosts(uris, named)]
    networks = None
    if options.tunnel_ip is not None:
        from civicloud.agent.drivers.netlink import NetlinkDataPlane
        from civicloud.agent.runner import TenantNetworks

        tunnel = _tunnel_ip(options.tunnel_ip)
        require_bridge_filtering()
        networks = TenantNetworks(tunnel, options.underlay_mtu, NetlinkDataPlane())
    agent = Agent(server, state_dir, drivers, join_token=join_token, sample_interval_s=options.sample_interval_s,
                  ca_file=str(options.ca_file) if options.ca_file else None, networks=networks)
    try:
        if once:
            agent.tick()
            agent.flush()
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        agent.run(interval, stop)
    finally:
        agent.close()


class ThreadedServer:
    """The control plane in this process, on a thread (the demo, and tests that need a real socket)."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from civicloud.api import create_app
        from civicloud.store import make_engine, upgrade

        engine = make_engine(settings.resolved_database_url())
        upgrade(engine)
        config = uvicorn.Config(create_app(settings, engine=engine), host=settings.bind_host,
                                port=settings.bind_port, log_level="warning", proxy_headers=False,
                                **settings.ssl_options())
        self.server = uvicorn.Server(config)
        self.url = settings.api_url
        self.thread = threading.Thread(target=self.server.run, name="civicloud-server", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise Unavailable(f"the control plane did not start on {self.url}",
                                  code="civicloud.server.start_failed")
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
