"""Provisioning benchmark: from POST /workloads to running, through the whole stack.

    .venv/bin/python bench/provisioning.py [--workloads 200] [--no-guest]

- On libvirt's test hypervisor: a control plane on a real socket (SQLite), one site agent in this
  process looping every 50 ms, and ``--workloads`` requests one after another: the time from the
  POST to the API showing ``running`` (p50, p99).
- Under QEMU (libvirtd with software emulation here): one real test guest, from the POST to its
  marker line on the serial console (``guest_marker_s``). Skipped with a reason when libvirtd or the
  guest image is absent.
- Reclaim on the test hypervisor: the owner starts a VM of its own on a host full of harvest
  workloads (2 s notice); the agent loops at a production-like 2 s and must still stop each evicted
  workload at its deadline. ``reclaim_free_s`` is the worst time, over ``--reclaim-rounds`` rounds,
  from a workload's deadline to the control plane showing its room freed (``pending``, allocation
  released); ``reclaim_free_p50_s`` the median.
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
from datetime import UTC, datetime  # noqa: E402

from civicloud.agent.drivers.images import BootImage, GuestImages  # noqa: E402
from civicloud.agent.drivers.libvirt import LibvirtDriver  # noqa: E402
from civicloud.agent.runner import Agent  # noqa: E402
from civicloud.cli.demo import DemoHost, free_port, node_xml  # noqa: E402
from civicloud.cli.serve import ThreadedServer  # noqa: E402
from civicloud.client import ApiClient  # noqa: E402
from civicloud.settings import Settings  # noqa: E402
from civicloud.wire import MemberCreate, OfferingCreate, OfferSet, SiteCreate, WorkloadCreate  # noqa: E402

from report import publish  # noqa: E402

GUEST_DIR = Path(os.environ.get("CIVICLOUD_GUEST_DIR", "/var/cache/civicloud/guest"))


def _region(api: ApiClient, notice_s: int = 30) -> str:
    drancy = api.create_member(MemberCreate(name="Drancy", siren="219300290", category="commune"))
    api.create_member(MemberCreate(name="Bobigny", siren="219300084", category="commune"))
    site = api.create_site(SiteCreate(member_id=drancy.id, name="drancy", insee_code="93029"))
    api.set_offer(site.id, OfferSet(default_percent=100, reclaim_notice_s=notice_s))
    api.create_offering(OfferingCreate(name="vm.tiny", vcpus=1, memory_mib=256, disk_gib=0))  # the test pool is 100 GiB
    return api.issue_join_token(site.id).token


def _until(predicate, timeout: float) -> float | None:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if predicate():
            return time.perf_counter() - start
        time.sleep(0.005)
    return None


def _stack(tmp: Path, drivers_for, *, interval_s: float = 0.05, placement_s: float = 0.05,  # type: ignore[no-untyped-def]
           notice_s: int = 30):
    settings = Settings(data_dir=tmp, database_url=None, bind_port=free_port(0), placement_interval_s=placement_s)
    server = ThreadedServer(settings)
    server.start()
    api = ApiClient(server.url)
    token = _region(api, notice_s)
    agent = Agent(server.url, tmp / "agent", drivers_for(tmp), join_token=token)
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(interval_s, stop), daemon=True)
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
                took = _until(lambda w=w: api.get_workload(w.id).state.value == "running", 30)
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


def reclaim(rounds: int) -> dict[str, object]:
    """Deadline → room freed, for every workload evicted in ``rounds`` rounds."""
    freed: list[float] = []
    evicted_per_round = []
    for r in range(rounds):
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            node = tmp / "hv1.xml"
            node.write_text(node_xml(DemoHost("hv1", 16, 8)))  # 8 GiB; its ERP VM holds 4
            box: list[LibvirtDriver] = []

            def drivers(_t: Path, node: Path = node, box: list[LibvirtDriver] = box) -> list[LibvirtDriver]:
                box.append(LibvirtDriver(f"test://{node}", "hv1"))
                return box

            server, api, agent, stop, thread = _stack(tmp, drivers, interval_s=2.0, placement_s=2.0, notice_s=2)
            try:
                ids = [api.create_workload(WorkloadCreate(member_id="Bobigny", offering_id="vm.tiny",
                                                          name=f"r{r}w{i}")).id for i in range(10)]
                if _until(lambda api=api, ids=ids: all(api.get_workload(i).state.value == "running" for i in ids),
                          60) is None:
                    raise SystemExit("reclaim round: the workloads did not all run")
                # The owner starts a 3 GiB VM: 7 of 8 GiB are its own, 2.5 GiB allocated is 1.5 GiB too many.
                box[0]._connection().defineXML(
                    "<domain type='test'><name>owner-vm</name><memory unit='GiB'>3</memory><vcpu>2</vcpu>"
                    "<os><type arch='x86_64'>hvm</type></os></domain>").create()
                if _until(lambda api=api, ids=ids: any(api.get_workload(i).state.value == "evicting" for i in ids),
                          30) is None:
                    raise SystemExit("reclaim round: nothing was evicted")
                going = {w.id: w.evict_deadline for w in (api.get_workload(i) for i in ids)
                         if w.state.value == "evicting"}
                evicted_per_round.append(len(going))
                left = dict(going)
                t_end = time.monotonic() + 30
                while left and time.monotonic() < t_end:
                    for wid, deadline in list(left.items()):
                        if api.get_workload(wid).state.value == "pending":
                            freed.append((datetime.now(UTC) - deadline).total_seconds())  # type: ignore[operator]
                            del left[wid]
                    time.sleep(0.01)
                if left:
                    raise SystemExit(f"reclaim round: {len(left)} evicted workloads never freed their room")
            finally:
                stop.set()
                thread.join(10)
                agent.close()
                api.close()
                server.stop()
    freed.sort()
    return {"reclaim_free_s": round(freed[-1], 3), "reclaim_free_p50_s": round(freed[len(freed) // 2], 3),
            "reclaim_evictions": len(freed), "reclaim_evicted_per_round": evicted_per_round,
            "reclaim_notice_s": 2, "reclaim_agent_interval_s": 2.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workloads", type=int, default=200)
    parser.add_argument("--no-guest", action="store_true", help="skip the real guest under QEMU")
    parser.add_argument("--reclaim-rounds", type=int, default=5)
    args = parser.parse_args()
    result: dict[str, object] = test_hypervisor(args.workloads)
    result.update(real_guest() if not args.no_guest else {"guest_marker_s": None, "guest_skipped": "--no-guest"})
    result.update(reclaim(args.reclaim_rounds))
    publish("provisioning", result)


if __name__ == "__main__":
    main()
