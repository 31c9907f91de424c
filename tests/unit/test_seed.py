"""A guest's NoCloud seed (agent/seed.py): the files cloud-init reads, on an ISO 9660 volume labelled cidata,
read back here as a guest's kernel would see it (Rock Ridge and Joliet names)."""

from __future__ import annotations

import io
from pathlib import Path

import pycdlib
import pytest
import yaml

from civicloud.agent.drivers.images import BootImage
from civicloud.agent.drivers.libvirt import qemu_domain_xml
from civicloud.agent.reconcile import Desired, Nic
from civicloud.agent.seed import hostname, seed_files, seed_iso

NICS = (Nic("02:AA:00:00:00:01", "ccbr5001", "cctport1", "10.64.0.5/22", "10.64.0.1", ("10.64.0.2", "9.9.9.9")),
        Nic("02:aa:00:00:00:02", "ccbr5002", "cctport2", "10.20.0.9/24", "10.20.0.1"))


def test_the_files_say_who_the_guest_is_and_how_its_nics_are_set() -> None:
    files = seed_files("wl-0001", "Compta (prod)", NICS)
    assert yaml.safe_load(files["meta-data"]) == {"instance-id": "wl-0001", "local-hostname": "compta-prod"}
    assert yaml.safe_load(files["network-config"]) == {"version": 2, "ethernets": {
        "nic0": {"match": {"macaddress": "02:aa:00:00:00:01"}, "addresses": ["10.64.0.5/22"],
                 "routes": [{"to": "default", "via": "10.64.0.1"}],
                 "nameservers": {"addresses": ["10.64.0.2", "9.9.9.9"]}},
        # One default route only: the first NIC's.
        "nic1": {"match": {"macaddress": "02:aa:00:00:00:02"}, "addresses": ["10.20.0.9/24"]}}}
    assert files["user-data"].startswith(b"#cloud-config\n")
    assert yaml.safe_load(files["user-data"]) == {}
    assert yaml.safe_load(seed_files("w", "w", ())["network-config"]) == {"version": 2, "ethernets": {}}


@pytest.mark.parametrize(("name", "expected"), [("web-1", "web-1"), ("Mairie de Bobigny", "mairie-de-bobigny"),
                                                ("--é--", "workload"), ("x" * 80, "x" * 63), ("a.b_c", "a-b-c")])
def test_hostnames_are_valid_whatever_the_workload_is_called(name: str, expected: str) -> None:
    assert hostname(name) == expected


def test_the_iso_is_a_cidata_volume_with_the_nocloud_names() -> None:
    files = seed_files("wl-0001", "compta", NICS)
    data = seed_iso(files)
    iso = pycdlib.PyCdlib()
    iso.open_fp(io.BytesIO(data))
    try:
        assert iso.pvd.volume_identifier.decode().strip() == "cidata"
        for name, content in files.items():
            for kind in ("rr_path", "joliet_path"):
                out = io.BytesIO()
                iso.get_file_from_iso_fp(out, **{kind: f"/{name}"})
                assert out.getvalue() == content, (name, kind)
    finally:
        iso.close()


def test_a_real_guest_gets_its_seed_as_a_read_only_cdrom(tmp_path: Path) -> None:
    spec = Desired("wl-0001", "compta", "hv1", "running", 1, 256, 1, "vm.small", nics=NICS)
    image = BootImage(tmp_path / "base.qcow2")
    xml = qemu_domain_xml(spec, "qemu", image, tmp_path / "disk.qcow2", tmp_path / "console.log",
                          tmp_path / "seed.iso")
    cdrom = xml[xml.index("device='cdrom'"):]
    cdrom = cdrom[:cdrom.index("</disk>")]
    assert f"<source file='{tmp_path / 'seed.iso'}'/>" in cdrom and "<readonly/>" in cdrom
    assert xml.count("<interface type='bridge'>") == 2 and "<target dev='cctport2'/>" in xml
