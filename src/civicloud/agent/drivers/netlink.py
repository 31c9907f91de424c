"""The host's data plane for tenant networks: reads and changes bridges, VXLAN devices and their forwarding
entries through netlink (pyroute2), and civicloud's nftables table through nft's JSON interface (``nft -j``).

What to change is decided by ``agent.netplan`` (pure); this module only reads the host (``actual``) and carries
out actions (``apply``). It works in the host's own network namespace, or in a named one (``netns``: the tests
make hosts of namespaces). Only devices named ``cc…`` and tagged ``civicloud:…`` are read as civicloud's.
"""

from __future__ import annotations

import json
import logging
import subprocess
from collections.abc import Iterable
from typing import Any

from pyroute2 import IPRoute, NetNS

from civicloud.agent.netplan import PREFIX, TABLE, Action, Actual, Device, digest, table_keys
from civicloud.errors import CivicloudError

log = logging.getLogger(__name__)


class DataPlaneError(CivicloudError):
    code = "civicloud.agent.data_plane"


class NetlinkDataPlane:
    def __init__(self, netns: str | None = None, nft: str = "nft") -> None:
        self.netns = netns
        self._nft = nft
        self._index: dict[str, int] = {}  # device name -> index, from the last read and the devices made since

    def _ipr(self) -> Any:
        return NetNS(self.netns) if self.netns else IPRoute()

    # -- reading ----------------------------------------------------------------------------------------------

    def actual(self) -> Actual:
        with self._ipr() as ipr:
            links = list(ipr.get_links())
            names = {link["index"]: link.get("IFLA_IFNAME") for link in links}
            self._index = {name: index for index, name in names.items() if name}
            devices = []
            vxlans = {}
            for link in links:
                name = link.get("IFLA_IFNAME") or ""
                if not name.startswith(PREFIX):
                    continue
                info = link.get("IFLA_LINKINFO")
                kind = info.get("IFLA_INFO_KIND") if info else None
                data = info.get("IFLA_INFO_DATA") if info else None
                vni = local = filtered = None
                if kind == "vxlan" and data is not None:
                    vni, local = data.get("IFLA_VXLAN_ID"), data.get("IFLA_VXLAN_LOCAL")
                    vxlans[link["index"]] = name
                if kind == "bridge" and data is not None:
                    filtered = bool(data.get("IFLA_BR_NF_CALL_IPTABLES"))
                master = link.get("IFLA_MASTER")
                devices.append(Device(name, kind or "", link.get("IFLA_IFALIAS"), names.get(master) if master else None,
                                      bool(link["flags"] & 1), vni, local, link.get("IFLA_MTU"), filtered))
            fdb = set()
            if vxlans:  # one dump of the bridge forwarding entries, kept for civicloud's VXLAN devices
                for entry in ipr.fdb("dump"):
                    dst, name = entry.get("NDA_DST"), vxlans.get(entry.get("ifindex"))
                    if dst and name:  # the remote entries civicloud writes
                        fdb.add((name, str(entry.get("NDA_LLADDR")).lower(), str(dst)))
        found, tables = self._rules_digest()
        return Actual(tuple(devices), frozenset(fdb), found, tables)

    def _rules_digest(self) -> tuple[str | None, tuple[str, ...]]:
        """The digest of civicloud's tables as ``netplan.wanted_keys`` makes it, and which of them exist."""
        sets: dict[str, list[tuple[str, ...]]] = {}
        rules: list[tuple[str, str]] = []
        tables = []
        for family in ("bridge", "inet"):
            done = self._run_nft(["-j", "list", "table", family, TABLE], check=False)
            if done.returncode != 0:
                continue  # no such table
            tables.append(family)
            for item in json.loads(done.stdout).get("nftables", []):
                kind = "set" if "set" in item else "map" if "map" in item else None
                if kind is not None:
                    body = item[kind]
                    sets[f"{family}/{body['name']}"] = sorted(_element(e) for e in body.get("elem", []))
                elif "rule" in item:
                    rules.append((f"{family}/{item['rule']['chain']}", item["rule"].get("comment", "")))
        if not tables:
            return None, ()
        return digest(table_keys({k: v for k, v in sets.items() if v}, rules)), tuple(tables)

    # -- changing ---------------------------------------------------------------------------------------------

    def apply(self, actions: Iterable[Action]) -> list[str]:
        """Carry out the actions in order; each failure is logged and returned (the next pass plans again from
        what the host then holds), the others still carried out."""
        errors = []
        with self._ipr() as ipr:
            for action in actions:
                try:
                    self._do(ipr, action)
                except Exception as exc:  # netlink and nft errors alike: reported, retried next pass
                    log.warning("network action %s failed: %s", action, exc)
                    errors.append(f"{action}: {exc}")
        return errors

    def _do(self, ipr: Any, a: Action) -> None:
        if a.verb == "rules":
            self._run_nft(["-j", "-f", "-"], stdin=json.dumps(a.args["ruleset"]))
            return
        if a.verb == "refuse":
            raise DataPlaneError(a.args["why"])
        if a.verb in ("add_bridge", "add_vxlan"):
            # A bridge's IPv4 packets pass the inet hooks (the security groups), by the bridge's own switch.
            extra = ({"kind": "bridge", "br_nf_call_iptables": 1} if a.verb == "add_bridge" else
                     {"kind": "vxlan", "vxlan_id": a.args["vni"], "vxlan_local": a.args["local"],
                      "vxlan_port": a.args["port"], "vxlan_learning": 0})
            ipr.link("add", ifname=a.device, mtu=a.args["mtu"], **extra)
            self._index[a.device] = index = int(ipr.link("get", ifname=a.device)[0]["index"])
            ipr.link("set", index=index, ifalias=a.args["alias"])
            return
        index = self._lookup(ipr, a.device)
        if a.verb == "attach":
            ipr.link("set", index=index, master=self._lookup(ipr, a.args["master"]))
        elif a.verb == "set_up":
            ipr.link("set", index=index, state="up")
        elif a.verb == "set_mtu":
            ipr.link("set", index=index, mtu=a.args["mtu"])
        elif a.verb == "set_filtered":
            ipr.link("set", index=index, kind="bridge", br_nf_call_iptables=1)
        elif a.verb == "delete":
            ipr.link("del", index=index)
            self._index.pop(a.device, None)
        elif a.verb == "add_fdb":
            ipr.fdb("append", ifindex=index, lladdr=a.args["mac"], dst=a.args["dst"])
        elif a.verb == "del_fdb":
            ipr.fdb("del", ifindex=index, lladdr=a.args["mac"], dst=a.args["dst"])
        else:
            raise DataPlaneError(f"unknown network action {a.verb!r}")

    def _lookup(self, ipr: Any, name: str) -> int:
        """A device's index: from the last read, else asked of the kernel by its name (one request)."""
        if name not in self._index:
            found = ipr.link_lookup(ifname=name)
            if not found:
                raise DataPlaneError(f"no device {name!r} on the host")
            self._index[name] = int(found[0])
        return self._index[name]

    def _run_nft(self, args: list[str], stdin: str | None = None, check: bool = True
                 ) -> subprocess.CompletedProcess[str]:
        command = [self._nft, *args]
        if self.netns:
            command = ["ip", "netns", "exec", self.netns, *command]
        done = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=60, check=False)
        if check and done.returncode != 0:
            raise DataPlaneError(f"nft {' '.join(args)} failed: {done.stderr.strip()[:500]}")
        return done


def _element(e: Any) -> tuple[str, ...]:
    """A set's or map's element from nft's JSON as text: a key (a value, or a concatenation), and for a map
    its verdict as ``jump:<chain>``."""
    if isinstance(e, list):  # a map's [key, verdict]
        key, verdict = e
        target = verdict.get("jump", {}).get("target") if isinstance(verdict, dict) else None
        return (*_element(key), f"jump:{target}")
    if isinstance(e, dict) and "concat" in e:
        return tuple(str(v) for v in e["concat"])
    if isinstance(e, dict) and "elem" in e:
        return _element(e["elem"]["val"])
    return (str(e),)
