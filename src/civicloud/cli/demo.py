"""``civicloud demo``: a small region on one machine, end to end.

A control plane on SQLite in a data dir, three site agents as separate
processes, each driving its own libvirt test hypervisor (libvirt's built-in
``test://`` driver with a node file per host), then Bobigny asks for a VM on
Drancy's surplus and we wait until libvirt runs it.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from civicloud.cli.common import console, styled_state, table
from civicloud.cli.serve import ThreadedServer
from civicloud.cli.workloads import wait_for_state
from civicloud.client import ApiClient
from civicloud.clock import system_clock
from civicloud.errors import Unavailable
from civicloud.settings import Settings
from civicloud.wire import (
    AgreementCreate,
    CertificationAttest,
    CertificationIn,
    MemberCreate,
    OfferingCreate,
    OfferSet,
    PriceBookCreate,
    SiteCreate,
    TokenCreate,
    UserCreate,
    WindowIn,
    WorkloadCreate,
)


@dataclass(frozen=True)
class DemoHost:
    name: str
    cpus: int
    memory_gib: int


@dataclass(frozen=True)
class DemoSite:
    member: str
    name: str
    insee_code: str
    offer: OfferSet | None  # None: the site lends nothing
    hosts: tuple[DemoHost, ...]
    latitude: float
    longitude: float
    hds: bool = False


# SIRENs below pass the Luhn check; they illustrate, they are not the bodies' registered numbers.
MEMBERS = (
    MemberCreate(name="Ville de Drancy", siren="219300290", siret="21930029000018", category="commune"),
    MemberCreate(name="Ville de Bobigny", siren="219300084", category="commune"),
    MemberCreate(name="Hôpital Avicenne", siren="269300612", category="hospital"),
    MemberCreate(name="Start-up Incubateur Bondy", siren="912345675", category="startup"),
)
AGREEMENTS = {"Ville de Drancy": "mutualisation_convention", "Ville de Bobigny": "mutualisation_convention",
              "Hôpital Avicenne": "mutualisation_convention", "Start-up Incubateur Bondy": "ppp"}
# The operator issues the invoices; an illustrative SIRET (Luhn-valid), not a registered one.
OPERATOR_SIRET = "20009300300016"
# Public bodies at cost (the cost model of a typical town-hall host: docs/billing.md), PPP partners + 25 %.
PRICE_BOOKS = (
    PriceBookCreate(name="Public bodies at cost", valid_from=date(2026, 1, 1),
                    agreement_kind="mutualisation_convention",
                    vcpu_hour=Decimal("0.005351"), ram_gib_hour=Decimal("0.00107"), disk_gib_month=Decimal("0.01"),
                    ehealth_month=Decimal("15"), operator_fee_percent=Decimal(2)),
    PriceBookCreate(name="PPP partners at cost + 25 %", valid_from=date(2026, 1, 1), agreement_kind="ppp",
                    vcpu_hour=Decimal("0.006689"), ram_gib_hour=Decimal("0.001338"), disk_gib_month=Decimal("0.0125"),
                    operator_fee_percent=Decimal(2)),
)
# Drancy lends 20 % of each host during office hours and 80 % at night and at weekends (public holidays
# count as Sundays), with 10 % committed for guaranteed work: the lender of the story.
DRANCY_OFFER = OfferSet(committed_percent=10, default_percent=80, reclaim_notice_s=30,
                        windows=[WindowIn(days=["mon", "tue", "wed", "thu", "fri"], start="08:00", end="19:00",
                                          share_percent=20)])
SITES = (
    DemoSite("Ville de Drancy", "Drancy – salle serveurs mairie", "93029", DRANCY_OFFER,
             (DemoHost("drancy-hv1", 32, 128), DemoHost("drancy-hv2", 16, 64)), 48.9230, 2.4455),
    # Bobigny's small room runs its own services and lends nothing: it borrows.
    DemoSite("Ville de Bobigny", "Bobigny – hôtel de ville", "93008", None, (DemoHost("bobigny-hv1", 8, 32),),
             48.9086, 2.4397),
    # The hospital's HDS-certified room keeps its capacity for health data.
    DemoSite("Hôpital Avicenne", "Avicenne – salle HDS", "93008", None, (DemoHost("avicenne-hds1", 64, 256),),
             48.9140, 2.4251, hds=True),
)
OFFERINGS = (
    OfferingCreate(name="vm.small", description="1 vCPU, 2 GiB, 20 GiB disk", vcpus=1, memory_mib=2048,
                   disk_gib=20, service_class="harvest"),
    OfferingCreate(name="vm.medium", description="2 vCPU, 4 GiB, 40 GiB disk", vcpus=2, memory_mib=4096,
                   disk_gib=40, service_class="harvest"),
    OfferingCreate(name="vm.guaranteed", description="2 vCPU, 4 GiB, 40 GiB, never evicted", vcpus=2,
                   memory_mib=4096, disk_gib=40, service_class="guaranteed"),
)


def node_xml(host: DemoHost) -> str:
    """A libvirt test-driver node file: the host's CPUs, memory, a storage pool, and one owner VM.

    The test driver sizes every storage pool at 100 GiB whatever the file says, so each demo
    host reports 100 GiB of disk.
    """
    return f"""<node>
  <cpu><mhz>2400</mhz><model>x86_64</model><active>{host.cpus}</active><nodes>1</nodes>
       <sockets>1</sockets><cores>{host.cpus}</cores><threads>1</threads></cpu>
  <memory>{host.memory_gib * 1024 * 1024}</memory>
  <pool type='dir'><name>default</name><target><path>/var/lib/libvirt/images</path></target></pool>
  <domain type='test'><name>{host.name}-owner-erp</name><memory>4194304</memory><vcpu>2</vcpu>
    <os><type>hvm</type></os></domain>
</node>
"""


def free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise Unavailable("no free TCP port on 127.0.0.1", code="civicloud.demo.no_port")


def seed(api: ApiClient, data_dir: Path) -> list[tuple[str, list[str]]]:
    """Create the region through the API; return (site id, agent host args) per site."""
    for offering in OFFERINGS:
        api.create_offering(offering)
    for book in PRICE_BOOKS:
        api.add_price_book(book)
    ids = {}
    for member in MEMBERS:
        ids[member.name] = api.create_member(member).id
        api.add_agreement(ids[member.name], AgreementCreate(kind=AGREEMENTS[member.name],
                                                            valid_from=date(2026, 1, 1)))
    agents = []
    today = system_clock().date()
    for site in SITES:
        certs = [CertificationIn(kind="hds", activities=[1, 2, 3, 4, 5, 6],
                                 expires_on=today + timedelta(days=365))] if site.hds else []
        created = api.create_site(SiteCreate(member_id=ids[site.member], name=site.name, insee_code=site.insee_code,
                                             certifications=certs, latitude=site.latitude, longitude=site.longitude))
        if site.hds:  # the hospital only proposes it: the federation's operator attests it, certificate in hand
            api.attest_certification(created.id, "hds", CertificationAttest(
                certificate_number="HDS-DEMO-2026-0001", issuer="organisme certificateur (démo)",
                valid_from=today - timedelta(days=30), expires_on=today + timedelta(days=365)))
        if site.offer is not None:
            api.set_offer(created.id, site.offer)
        host_args = []
        for host in site.hosts:
            path = data_dir / "hypervisors" / f"{host.name}.xml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(node_xml(host))
            host_args += ["--host", f"{host.name}=test://{path.resolve()}"]
        agents.append((created.id, host_args))
    return agents


def start_agents(api: ApiClient, server_url: str, data_dir: Path,
                 agents: list[tuple[str, list[str]]]) -> list[subprocess.Popen[bytes]]:
    procs = []
    for site_id, host_args in agents:
        token = api.issue_join_token(site_id).token
        state = data_dir / "agents" / site_id
        state.mkdir(parents=True, exist_ok=True)
        log = open(state / "agent.log", "ab")  # noqa: SIM115 - closed with the process
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "civicloud", "agent", "--server", server_url, "--state-dir", str(state),
             "--interval", "1", *host_args],
            env={**os.environ, "CIVICLOUD_JOIN_TOKEN": token}, stdout=log, stderr=subprocess.STDOUT))
    return procs


def wait_for_hosts(api: ApiClient, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with console.status("waiting for the sites' agents to report their hosts…"):
        while len([h for h in api.list_hosts() if h.last_seen_at]) < count:
            if time.monotonic() > deadline:
                raise Unavailable(f"the agents did not report {count} hosts within {timeout:.0f} s; "
                                  "see agent.log in the demo's data dir", code="civicloud.demo.agents_silent")
            time.sleep(0.2)


# One user per role (logins of the story; passwords drawn at random and printed: a demo's, not a deployment's).
DEMO_USERS = (("admin", None, "federation_admin"), ("auditeur", None, "auditor"),
              ("dsi-bobigny", "Ville de Bobigny", "member_admin"), ("agent-bobigny", "Ville de Bobigny", "member_user"),
              ("technicien-drancy", "Ville de Drancy", "site_operator"))


def seed_users(api: ApiClient) -> tuple[str, list[tuple[str, str, str]]]:
    """The demo's users, one per role: (the admin's API token, [(login, role, password)]). The first user ends
    the fresh server's open mode, so the rest are created with the admin's token."""
    logins = []
    token = ""
    for login, member, role in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        member_id = api.get_member(member).id if member else None
        api.create_user(UserCreate(login=login, password=password, member_id=member_id, roles=[role]))
        if not token:
            token = api.login(TokenCreate(login=login, password=password, name="demo", ttl_days=1)).token
            api = ApiClient(api.base_url, token=token)
        logins.append((login, role, password))
    api.close()
    return token, logins


def summary(api: ApiClient) -> None:
    members = {m.id: m for m in api.list_members()}
    sites = {s.id: s for s in api.list_sites()}
    hosts = {h.id: h for h in api.list_hosts()}
    console.print(table("Members", ["member", "category", "SIREN"],
                        [(m.name, m.category.value, m.siren) for m in members.values()]))
    console.print(table("Sites", ["site", "member", "lends now", "certifications"],
                        [(s.name, members[s.member_id].name, f"{api.get_offer(s.id).lent_now_percent:g} %",
                          ", ".join(f"HDS {'-'.join(map(str, c.activities))} until {c.expires_on}"
                                    f"{'' if c.attested else ' (proposed, not attested)'}"
                                    for c in s.certifications) or "—") for s in sites.values()]))
    console.print(table("Hosts", ["host", "site", "vCPU", "memory MiB", "allocated vCPU / MiB", "free vCPU / MiB"],
                        [(h.name, sites[h.site_id].name, h.total.vcpus, h.total.memory_mib,
                          f"{h.allocated.vcpus} / {h.allocated.memory_mib}", f"{h.free.vcpus} / {h.free.memory_mib}")
                         for h in hosts.values()]))
    rows = []
    for w in api.list_workloads():
        host = hosts.get(w.host_id or "")
        rows.append((w.name, members[w.member_id].name, styled_state(w.state.value), host.name if host else "—",
                     sites[host.site_id].name if host else "—", w.message))
    console.print(table("Workloads", ["workload", "borrower", "state", "host", "site", "why"], rows))


def run_demo(*, once: bool, port: int, data_dir: Path | None, timeout: float) -> int:
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="civicloud-demo-")
        data_dir = Path(tmp.name)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, database_url=None, bind_host="127.0.0.1",
                        bind_port=free_port(port), placement_interval_s=1.0, host_stale_after_s=30,
                        operator_name="Fédération civicloud de Seine-Saint-Denis (démo)",
                        operator_siret=OPERATOR_SIRET)
    server = ThreadedServer(settings)
    server.start()
    url = settings.api_url
    console.print(f"[bold]civicloud demo[/] — control plane at {url} (SQLite in {data_dir})")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with ApiClient(url) as api:
            agents = seed(api, data_dir)
            procs = start_agents(api, url, data_dir, agents)
            token, logins = seed_users(api)
        with ApiClient(url, token=token) as api:
            wait_for_hosts(api, sum(len(s.hosts) for s in SITES), timeout)
            bobigny = api.get_member("Ville de Bobigny")
            console.print("Bobigny asks for a [bold]vm.small[/] on the federation's surplus…")
            workload = api.create_workload(WorkloadCreate(member_id=bobigny.id, offering_id="vm.small",
                                                          name="bobigny-teletravail-1"))
            workload = wait_for_state(api, workload.id, {"running"}, timeout)
            summary(api)
            running = workload.state.value == "running"
            if running:
                host = api.get_host(workload.host_id or "")
                console.print(f"[green]✔[/] {workload.name} is [green]running[/] on {host.name} "
                              f"(a libvirt domain civicloud-{workload.id})")
            else:
                console.print(f"[red]✘[/] {workload.name} is {workload.state.value}: {workload.message}")
            console.print(f"API: {url}/api/v1  ·  OpenAPI: {url}/api/v1/openapi.json  ·  docs: {url}/api/v1/docs")
            console.print(table("Users (one per role; log in with 'civicloud login --login …')",
                                ["login", "role", "password"], logins))
            console.print(f"export CIVICLOUD_SERVER_URL={url} CIVICLOUD_API_TOKEN={token}   # the admin's token")
            if once:
                return 0 if running else 1
            console.print("Try: [bold]civicloud workload list[/] after the export above. Ctrl-C stops the demo.")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                console.print("stopping…")
            return 0 if running else 1
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        server.stop()
        if tmp is not None:
            tmp.cleanup()
