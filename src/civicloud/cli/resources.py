"""The sub-commands over the API, one module per noun: member, site, host, offering, workload, network,
security-group."""

from __future__ import annotations

import typer

from civicloud.cli.certifications import certification_app
from civicloud.cli.hosts import host_app
from civicloud.cli.members import member_app
from civicloud.cli.networks import network_app, security_group_app
from civicloud.cli.offerings import offering_app
from civicloud.cli.offers import offer_app
from civicloud.cli.sites import site_app
from civicloud.cli.workloads import wait_for_state, workload_app

__all__ = ["register", "wait_for_state"]


def register(app: typer.Typer) -> None:
    site_app.add_typer(offer_app, name="offer")
    site_app.add_typer(certification_app, name="certification")
    app.add_typer(member_app, name="member")
    app.add_typer(site_app, name="site")
    app.add_typer(host_app, name="host")
    app.add_typer(offering_app, name="offering")
    app.add_typer(workload_app, name="workload")
    app.add_typer(network_app, name="network")
    app.add_typer(security_group_app, name="security-group")
