"""Hosts and guests as network namespaces, for the tenant networks' tests (tests/agent/test_network_*.py).

A host is a namespace with an underlay veth to the other host (10.99.0.1 and 10.99.0.2: addresses inside the
test's own namespaces); a guest is a namespace whose NIC's host end, on its host, is the port's tap. Every
namespace made is deleted at the end. Needs root, ip and nft: skipped without them, except in CI (failed).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid

import pytest

from civicloud.agent.drivers.netlink import NetlinkDataPlane
from civicloud.agent.netplan import HostNetworks, LocalPort, plan


def require_netns() -> None:
    missing = [what for what, ok in (("root", os.geteuid() == 0), ("ip", shutil.which("ip")),
                                     ("nft (Debian's nftables)", shutil.which("nft"))) if not ok]
    if missing:
        reason = f"the data-plane test needs {', '.join(missing)}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}: required in CI", pytrace=False)
        pytest.skip(reason)


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, timeout=30, check=check)


def ns(name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return sh("ip", "netns", "exec", name, *args, check=check)


class Lab:
    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.h1, self.h2 = f"cch1{tag}", f"cch2{tag}"
        self.guests: dict[str, str] = {}  # port id -> guest namespace
        self.servers: list[subprocess.Popen[str]] = []
        self.made: list[str] = []
        for host in (self.h1, self.h2):
            self._netns(host)
        sh("ip", "link", "add", f"u1{tag}", "netns", self.h1, "type", "veth", "peer", "name", f"u2{tag}", "netns",
           self.h2)
        for host, dev, address in ((self.h1, f"u1{tag}", "10.99.0.1/24"), (self.h2, f"u2{tag}", "10.99.0.2/24")):
            ns(host, "ip", "addr", "add", address, "dev", dev)
            ns(host, "ip", "link", "set", dev, "up")
        self.planes = {self.h1: NetlinkDataPlane(self.h1), self.h2: NetlinkDataPlane(self.h2)}

    def _netns(self, name: str) -> None:
        sh("ip", "netns", "add", name)
        self.made.append(name)
        ns(name, "ip", "link", "set", "lo", "up")

    def guest(self, host: str, port: LocalPort) -> str:
        """A guest whose NIC has the port's MAC and address; its host end is the port's tap, on ``host``."""
        name = f"ccg{uuid.uuid4().hex[:8]}"
        self._netns(name)
        sh("ip", "link", "add", port.tap, "netns", host, "type", "veth", "peer", "name", "eth0", "netns", name)
        ns(name, "ip", "link", "set", "eth0", "address", port.mac, "mtu", "1450")
        ns(name, "ip", "addr", "add", f"{port.ip}/24", "dev", "eth0")
        ns(name, "ip", "link", "set", "eth0", "up")
        ns(host, "ip", "link", "set", port.tap, "up")
        self.guests[port.port_id] = name
        return name

    def pings(self, port: LocalPort, address: str) -> bool:
        return ns(self.guests[port.port_id], "ping", "-c", "1", "-W", "1", address, check=False).returncode == 0

    def listen(self, port: LocalPort, tcp_port: int) -> None:
        """A TCP server in the port's guest that answers "ok" to each connection (for 60 s at most)."""
        server = subprocess.Popen(["ip", "netns", "exec", self.guests[port.port_id], sys.executable, "-c", _SERVER,
                                   str(tcp_port)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.servers.append(server)
        assert server.stdout is not None and server.stdout.readline().strip() == "listening"

    def connects(self, port: LocalPort, address: str, tcp_port: int) -> bool:
        """Whether the port's guest opens a TCP connection to ``address`` and reads the server's answer (1 s)."""
        done = ns(self.guests[port.port_id], sys.executable, "-c", _CLIENT, address, str(tcp_port), check=False)
        return done.returncode == 0 and done.stdout.strip() == "ok"

    def converge(self, host: str, desired: HostNetworks, *, first: int | None = None) -> list[str]:
        """Plan and apply (only the ``first`` actions when given: an agent killed part-way); the errors."""
        actions = plan(desired, self.planes[host].actual())
        return self.planes[host].apply(actions if first is None else actions[:first])

    def close(self) -> None:
        for server in self.servers:
            server.kill()
            server.wait(10)
        for name in reversed(self.made):
            sh("ip", "netns", "del", name, check=False)


_SERVER = """
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(16)
s.settimeout(1)
print("listening", flush=True)
end = time.monotonic() + 60
while time.monotonic() < end:
    try:
        c, _ = s.accept()
    except OSError:
        continue
    c.sendall(b"ok")
    c.close()
"""

_CLIENT = """
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
    print(c.recv(2).decode())
except OSError:
    sys.exit(1)
"""
