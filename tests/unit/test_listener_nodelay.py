"""The API workers' listener is stated as TCP, so that asyncio turns Nagle's algorithm off on every connection
they accept (``cli.serve.tcp_listener``): with it on, each keep-alive request waited on the client's delayed
ACK (uvicorn binds its workers' listener with protocol 0)."""

from __future__ import annotations

import asyncio
import socket

from civicloud.cli.serve import tcp_listener


def _nodelay_of_accepted(listener: socket.socket) -> int:
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            sock = transport.get_extra_info("socket")
            seen.append(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def accept_one() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=listener)
        _reader, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        for _ in range(100):  # bounded: the server side sees the connection within a few loop turns
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    asyncio.run(accept_one())
    return seen[0]


def _bound_as_uvicorn_does() -> socket.socket:
    sock = socket.socket(family=socket.AF_INET)  # protocol 0, as uvicorn's Config.bind_socket
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def test_connections_accepted_on_the_workers_listener_have_nagle_off() -> None:
    assert _nodelay_of_accepted(tcp_listener(_bound_as_uvicorn_does())) == 1


def test_without_it_they_keep_nagle_on() -> None:  # what the fix is for: if this starts failing, asyncio or
    assert _nodelay_of_accepted(_bound_as_uvicorn_does()) == 0  # uvicorn changed, and tcp_listener may go
