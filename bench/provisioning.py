"""Provisioning benchmark: from POST /workloads to running, through the whole stack.

    .venv/bin/python bench/provisioning.py [--workloads 200] [--no-guest]

- On libvirt's test hypervisor: a control plane on a real socket (SQLite), one site agent in this
  process looping every 50 ms, and ``--workloads`` requests one after another: the time from the
  POST to the API showing ``running`` (p50, p99).
- Under QEMU (libvirtd with software emulation here): one real test guest, from the POST to its
  marker line on the serial console (``guest_marker_s``). Skipped with a reason when libvirtd or the
  guest image is absent.
- ``reclaim_free_s`` needs reclaim, which is not built yet: reported as null.
Prints a table and writes bench/results/provisioning.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import publish  # noqa: E402

from civicloud.agent.drivers.images import BootImage, GuestImages  # noqa: E402
from civicloud.agent.drivers.libvirt import LibvirtDriver  # noqa: E402
from civicloud.agent.runner import Agent  # noqa: E402
from civicloud.cli.demo import DemoHost, free_port, node_xml  # noqa: E402
from civicloud.cli.serve import ThreadedServer  # noqa: E402
from civicloud.client import ApiClient  # noqa: E402
from civicloud.settings import Settings  # noqa: E402
from civicloud.wire import MemberCreate, OfferingCreate, OfferSet, SiteCreate, WorkloadCreate  # noqa: E402

GUEST_DIR = Path(os.environ.get("CIVICLOUD_GUEST_DIR", "/var/cache/civicloud/guest"))


def _region(api: ApiClient) -> str:
    drancy = api.create_member(MemberCreate(name="Drancy", siren="219300290", category="commune"))
    api.create_member(MemberCreate(name="Bobigny", siren="219300084", category="commune"))
    site = api.create_site(SiteCreate(member_id=drancy.id, name="drancy", insee_code="93029"))
    api.set_offer(site.id, OfferSet(default_percent=100))
    api.create_offering(OfferingCreate(name="vm.tiny", vcpus=1, memory_mib=256, disk_gib=0))  # the test pool is 100 GiB
    return api.issue_join_token(site.id).token


def _until(predicate, timeout: float) -> float | None:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if predicate():
            return time.perf_counter() - start
        time.sleep(0.005)
    return None


def _stack(tmp: Path, drivers_for):  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp, database_url=None, bind_port=free_port(0), placement_interval_s=0.05)
    server = ThreadedServer(settings)
    server.start()
    api = ApiClient(server.url)
    token = _region(api)
    agent = Agent(server.url, tmp / "agent", drivers_for(tmp), join_token=token)
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(0.05, stop), daemon=True)
    thread.start()
    _until(lambda: bool(api.list_hosts()), 10)
    return server, api, agent, stop, thread


def test_hypervisor(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        node = tmp / "hv1.xml"
        node.write_text(node_xml(DemoHost("hv1", 512, 2048)))
        server, api, agent, stop, thread = _stack(tmp, lambda _t: [LibvirtDriver(f"test://{node}", "hv1")])
        latencies = []
        try:
            for i in range(n):
                t0 = time.perf_counter()
                w = api.create_workload(WorkloadCreate(member_id="Bobigny", offering_id="vm.tiny", name=f"w{i}"))
                took = _until(lambda: api.get_workload(w.id).state.value == "running", 30)
                if took is None:
                    raise SystemExit(f"workload {i} did not run: {api.get_workload(w.id).message}")
                latencies.append(time.perf_counter() - t0)
        finally:
            stop.set()
            thread.join(10)
            agent.close()
            api.close()
            server.stop()
    latencies.sort()
    return {"workloads": n, "p50_ms": round(latencies[n // 2] * 1e3, 1),
            "p99_ms": round(latencies[min(n - 1, int(0.99 * n))] * 1e3, 1),
            "mean_ms": round(statistics.fmean(latencies) * 1e3, 1)}


def real_guest() -> dict[str, object]:
    image = BootImage.test_guest(GUEST_DIR)
    if not all(p is not None and p.exists() for p in (image.base, image.kernel, image.initrd)):
        return {"guest_marker_s": None, "guest_skipped": f"no test guest in {GUEST_DIR} (scripts/build-guest-image.sh)"}
    state = Path(tempfile.mkdtemp(prefix="civicloud-bench-", dir="/var/tmp"))
    state.chmod(0o711)  # QEMU runs as libvirt's own user and must reach the overlay
    try:
        import libvirt

        try:
            libvirt.open("qemu:///system").close()
        except libvirt.libvirtError as exc:
            return {"guest_marker_s": None, "guest_skipped": f"libvirtd unreachable: {exc.get_error_message()}"}
        images = GuestImages(state / "agent", image)
        driver_box: list[LibvirtDriver] = []

        def drivers(_t: Path) -> list[LibvirtDriver]:
            driver_box.append(LibvirtDriver("qemu:///system", "hv-real", images=images, shutdown_timeout_s=1))
            return driver_box

        server, api, agent, stop, thread = _stack(state, drivers)
        try:
            t0 = time.perf_counter()
            w = api.create_workload(WorkloadCreate(member_id="Bobigny", offering_id="vm.tiny", name="guest"))
            marker = f"civicloud-guest: workload {w.id} up"
            log = images.console_log(w.id)
            took = _until(lambda: log.exists() and marker in log.read_text(errors="replace"), 120)
            running = time.perf_counter() - t0 if took is not None else None
            api.delete_workload(w.id)
            _until(lambda: api.get_workload(w.id).state.value == "deleted", 60)
        finally:
            stop.set()
            thread.join(10)
            agent.close()
            api.close()
            server.stop()
        return {"guest_marker_s": None if running is None else round(running, 2),
                "guest_domain_type": driver_box[0].domain_type}
    finally:
        shutil.rmtree(state, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", type=int, default=200)
    parser.add_argument("--no-guest", action="store_true", help="skip the real guest under QEMU")
    args = parser.parse_args()
    result: dict[str, object] = test_hypervisor(args.workloads)
    result.update(real_guest() if not args.no_guest else {"guest_marker_s": None, "guest_skipped": "--no-guest"})
    result["reclaim_free_s"] = None  # reclaim is not built yet
    publish("provisioning", result)


if __name__ == "__main__":
    main()
