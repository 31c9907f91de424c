"""A guest's NoCloud seed: what it is told at first boot, on a read-only ISO 9660 volume labelled ``cidata``.

cloud-init (every cloud image: Debian's genericcloud, Ubuntu's, Rocky's…) reads it unchanged: ``meta-data``
(the instance's id, the workload's; its hostname, from the workload's name), ``network-config`` (version 2: each
NIC matched by its port's MAC, its address from the control plane's IPAM with its subnet's prefix, the default
route through the first NIC's gateway, its subnet's DNS servers) and ``user-data`` (an empty cloud-config for
now; the images issue brings SSH keys and a first-boot script). The files are JSON, which YAML reads.

Pure but for the ISO's making (pycdlib, in memory): no file, no subprocess here; the driver writes the bytes.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence

import pycdlib

from civicloud.agent.reconcile import Nic

VOLUME = "cidata"
# ISO 9660 names (8.3, upper case) for systems that read neither Rock Ridge nor Joliet; the real ones in both.
_ISO_NAMES = {"meta-data": "METADATA.;1", "network-config": "NETWORK.;1", "user-data": "USERDATA.;1"}


def hostname(name: str) -> str:
    """A hostname from a workload's name: lower case, letters, digits and hyphens, at most 63 characters."""
    cleaned = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    return cleaned or "workload"


def network_config(nics: Sequence[Nic]) -> dict[str, object]:
    """cloud-init's network configuration, version 2, for these NICs (in order)."""
    ethernets: dict[str, object] = {}
    for i, nic in enumerate(nics):
        eth: dict[str, object] = {"match": {"macaddress": nic.mac.lower()}}
        if nic.address:
            eth["addresses"] = [nic.address]
        if nic.gateway and i == 0:  # one default route: the first NIC's
            eth["routes"] = [{"to": "default", "via": nic.gateway}]
        if nic.dns:
            eth["nameservers"] = {"addresses": list(nic.dns)}
        ethernets[f"nic{i}"] = eth
    return {"version": 2, "ethernets": ethernets}


def seed_files(workload_id: str, name: str, nics: Sequence[Nic]) -> dict[str, bytes]:
    """The seed's files, by their NoCloud names."""
    return {
        "meta-data": json.dumps({"instance-id": workload_id, "local-hostname": hostname(name)}, indent=1).encode(),
        "network-config": json.dumps(network_config(nics), indent=1).encode(),
        "user-data": b"#cloud-config\n{}\n",
    }


def seed_iso(files: Mapping[str, bytes]) -> bytes:
    """The ISO 9660 volume ``cidata`` holding ``files`` (Rock Ridge and Joliet names: ``meta-data``…)."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=VOLUME)
    try:
        for name, data in sorted(files.items()):
            iso.add_fp(io.BytesIO(data), len(data), f"/{_ISO_NAMES[name]}", rr_name=name, joliet_path=f"/{name}")
        out = io.BytesIO()
        iso.write_fp(out)
        return out.getvalue()
    finally:
        iso.close()
