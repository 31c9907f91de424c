"""The civicloud command line against a real control plane and agent."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicloud.agent.drivers.libvirt import LibvirtDriver
from civicloud.agent.runner import Agent
from civicloud.cli import app

pytestmark = pytest.mark.libvirt
runner = CliRunner()


def cli(url: str, *args: str):
    return runner.invoke(app, [*args, "--server", url], env={"COLUMNS": "200"})


@pytest.fixture
def running_agent(live_region, node_file, tmp_path: Path):
    driver = LibvirtDriver(node_file("hv1"), "hv1")
    agent = Agent(live_region.api.base_url, tmp_path / "agent", [driver], join_token=live_region.join_token(),
                  sample_interval_s=0.2)
    stop = threading.Event()
    thread = threading.Thread(target=agent.run, args=(0.2, stop), daemon=True)
    thread.start()
    yield driver
    stop.set()
    thread.join(10)


def test_workload_create_list_show_delete(live_server, live_region, running_agent) -> None:
    url = live_server.url
    created = cli(url, "workload", "create", "web", "--member", "Bobigny", "--offering", "vm.small", "--timeout", "30")
    assert created.exit_code == 0, created.output
    assert "running" in created.output
    workload_id = next(w.id for w in live_region.api.list_workloads())

    listed = cli(url, "workload", "list")
    assert listed.exit_code == 0 and "web" in listed.output and "hv1" in listed.output

    shown = cli(url, "workload", "show", workload_id)
    assert shown.exit_code == 0 and workload_id in shown.output

    deleted = cli(url, "workload", "delete", workload_id, "--wait", "--timeout", "30")
    assert deleted.exit_code == 0, deleted.output
    assert live_region.api.get_workload(workload_id).state.value == "deleted"
    assert running_agent.domains() == []


def test_workload_reboot_resize_and_samples(live_server, live_region, running_agent) -> None:
    from civicloud.wire import OfferingCreate

    url = live_server.url
    live_region.api.create_offering(OfferingCreate(name="vm.large", vcpus=2, memory_mib=1024, disk_gib=0))
    assert cli(url, "workload", "create", "web", "--member", "Bobigny", "--offering", "vm.small").exit_code == 0
    workload_id = next(w.id for w in live_region.api.list_workloads())
    rebooted = cli(url, "workload", "reboot", workload_id)
    assert rebooted.exit_code == 0 and "reboot requested" in rebooted.output, rebooted.output

    refused = cli(url, "workload", "resize", workload_id, "vm.large")
    assert refused.exit_code == 1 and "civicloud.workload.not_stopped" in refused.output
    assert cli(url, "workload", "stop", workload_id).exit_code == 0
    wait_until = time.monotonic() + 10
    while live_region.api.get_workload(workload_id).state.value != "stopped":
        assert time.monotonic() < wait_until, "never stopped"
        time.sleep(0.05)
    resized = cli(url, "workload", "resize", workload_id, "vm.large")
    assert resized.exit_code == 0 and "resized from vm.small to vm.large" in resized.output, resized.output

    samples = cli(url, "workload", "samples", workload_id)
    assert samples.exit_code == 0 and "Usage samples of" in samples.output  # the agent sampled it while running
    assert len(live_region.api.workload_samples(workload_id)) >= 1
    hosts = cli(url, "host", "list")
    assert hosts.exit_code == 0 and "owner's own" in hosts.output and "CPU load" in hosts.output


def test_lists_and_join_token(live_server, live_region) -> None:
    url = live_server.url
    for args, expected in ((("member", "list"), "Bobigny"), (("site", "list"), "drancy"),
                           (("offering", "list"), "vm.small"), (("host", "list"), "Hosts")):
        result = cli(url, *args)
        assert result.exit_code == 0 and expected in result.output, result.output
    token = cli(url, "site", "join-token", "drancy")
    assert token.exit_code == 0 and token.output.startswith("cvj_")


def test_errors_are_one_line_with_a_code(live_server) -> None:
    result = cli(live_server.url, "workload", "show", "no-such-id")
    assert result.exit_code == 1
    assert "civicloud.workload.not_found" in result.output
    assert "Traceback" not in result.output


def test_unreachable_server_says_what_to_do() -> None:
    result = cli("http://127.0.0.1:9", "member", "list")
    assert result.exit_code == 1
    assert "civicloud.client.unreachable" in result.output and "civicloud server" in result.output


def test_site_offer_set_and_show_as_a_timeline(live_server, live_region) -> None:
    url = live_server.url
    result = cli(url, "site", "offer", "set", "drancy", "--committed", "10", "--default", "80",
                 "--window", "mon-fri 08:00-19:00 20", "--borrowers", "commune,hospital", "--notice", "60")
    assert result.exit_code == 0, result.output
    offer = live_region.api.get_offer("drancy")
    assert (offer.committed_percent, offer.default_percent, offer.reclaim_notice_s) == (10, 80, 60)
    assert [(w.days, w.start, w.end, w.share_percent) for w in offer.windows] == \
        [(["mon", "tue", "wed", "thu", "fri"], "08:00", "19:00", 20)]
    assert offer.timeline[0][9] == 20 and offer.timeline[0][20] == 80 and offer.timeline[6][9] == 80

    shown = cli(url, "site", "offer", "show", "drancy")
    assert shown.exit_code == 0
    assert "mon" in shown.output and "08:00" in shown.output and "commune, hospital" in shown.output


def test_site_certification_propose_then_attest(live_server, live_region) -> None:
    url = live_server.url
    proposed = cli(url, "site", "certification", "propose", "drancy", "hds", "--expires", "2099-06-30",
                   "--activities", "1,2")
    assert proposed.exit_code == 0, proposed.output
    assert "proposed" in proposed.output and "civicloud site certification attest drancy hds" in proposed.output
    assert "(proposed)" in cli(url, "site", "list").output
    expired = cli(url, "site", "certification", "attest", "drancy", "hds", "--number", "HDS-0042",
                  "--issuer", "a certification body", "--valid-from", "2020-01-01", "--expires", "2021-01-01")
    assert expired.exit_code == 1 and "civicloud.certification.expired" in expired.output
    attested = cli(url, "site", "certification", "attest", "drancy", "hds", "--number", "HDS-0042",
                   "--issuer", "a certification body", "--valid-from", "2026-01-01", "--expires", "2099-06-30")
    assert attested.exit_code == 0, attested.output
    assert "attested" in attested.output and "HDS-0042" in attested.output
    [cert] = live_region.api.get_site("drancy").certifications
    assert (cert.attested, cert.certificate_number, str(cert.expires_on)) == (True, "HDS-0042", "2099-06-30")
    revoked = cli(url, "site", "certification", "revoke", "drancy", "hds")
    assert revoked.exit_code == 0 and not live_region.api.get_site("drancy").certifications[0].attested


def test_site_offer_refuses_overlapping_windows_with_a_code(live_server) -> None:
    result = cli(live_server.url, "site", "offer", "set", "drancy", "--window", "mon 08:00-12:00 20",
                 "--window", "mon 11:00-13:00 30")
    assert result.exit_code == 1
    assert "civicloud.offer.overlapping_windows" in result.output
    bad = cli(live_server.url, "site", "offer", "set", "drancy", "--window", "someday 08:00-12:00 20")
    assert bad.exit_code == 1 and "civicloud.offer.invalid_window" in bad.output


def test_workload_explain_names_the_filter(live_server, live_region, running_agent) -> None:
    import time

    from civicloud.wire import OfferSet, WorkloadCreate

    live_region.api.set_offer("drancy", OfferSet(default_percent=0))  # Drancy lends nothing now
    deadline = time.monotonic() + 10
    while not live_region.api.list_hosts() and time.monotonic() < deadline:
        time.sleep(0.05)  # the agent's first heartbeat
    w = live_region.api.create_workload(WorkloadCreate(member_id="Bobigny", offering_id="vm.small", name="web"))
    while "offer closed" not in ((p := live_region.api.get_workload(w.id).placement) and p.summary or "") \
            and time.monotonic() < deadline:
        time.sleep(0.1)
    result = cli(live_server.url, "workload", "explain", w.id)
    assert result.exit_code == 0, result.output
    assert "Why web is not placed" in result.output
    assert "offer_open" in result.output and "offer_closed_now" in result.output


def test_ids_are_never_cut_on_a_narrow_terminal(live_server, live_region) -> None:
    from civicloud.wire import WorkloadCreate

    w = live_region.api.create_workload(WorkloadCreate(member_id="Bobigny", offering_id="vm.small", name="narrow"))
    result = runner.invoke(app, ["workload", "list", "--server", live_server.url], env={"COLUMNS": "70"})
    assert result.exit_code == 0 and w.id in result.output


def test_networks_and_security_groups(live_server, live_region, running_agent) -> None:
    url = live_server.url
    made = cli(url, "network", "create", "office", "--member", "Bobigny", "--cidr", "10.20.0.0/24", "--dns", "9.9.9.9")
    assert made.exit_code == 0, made.output
    assert "10.20.0.0/24" in made.output and "DNS 9.9.9.9" in made.output
    network_id = next(n.id for n in live_region.api.list_networks())
    bad = cli(url, "network", "create", "lab", "--member", "Bobigny", "--cidr", "10.0.0.0/30")
    assert bad.exit_code == 1 and "civicloud.network.cidr_size" in bad.output

    group = cli(url, "security-group", "create", "web", "--member", "Bobigny")
    assert group.exit_code == 0, group.output
    group_id = next(g.id for g in live_region.api.list_security_groups() if g.name == "web")
    rule = cli(url, "security-group", "add-rule", group_id, "--port", "8080", "--remote-cidr", "192.168.1.0/24")
    assert rule.exit_code == 0, rule.output
    assert "8080" in rule.output and "192.168.1.0/24" in rule.output
    assert cli(url, "security-group", "add-rule", group_id, "--port", "70000").exit_code != 0

    created = cli(url, "workload", "create", "web", "--member", "Bobigny", "--offering", "vm.small", "--no-wait",
                  "--network", "office=10.20.0.10")
    assert created.exit_code == 0, created.output
    assert "10.20.0.10" in created.output
    web = next(w for w in live_region.api.list_workloads() if w.name == "web")
    deadline = time.monotonic() + 20
    while live_region.api.get_workload(web.id).host_id is None and time.monotonic() < deadline:
        time.sleep(0.1)
    shown = cli(url, "network", "show", network_id)
    assert shown.exit_code == 0 and "10.20.0.10" in shown.output
    # The host holding it, with what its agent applied (this agent programs no tenant networks: unknown).
    assert "Hosts holding office" in shown.output and "unknown" in shown.output, shown.output
    refused = cli(url, "network", "delete", network_id)
    assert refused.exit_code == 1 and "civicloud.network.in_use" in refused.output
    listed = cli(url, "network", "list")
    assert listed.exit_code == 0 and "office" in listed.output and "default" not in listed.output
