"""``civicloud site certification``: a site's member proposes a certification; the federation's operator attests it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

import typer

from civicloud.cli.common import DEFAULT_SERVER, ServerOpt, TokenOpt, client, console, friendly_errors, table
from civicloud.domain import CertificationKind
from civicloud.wire import CertificationAttest, CertificationIn, SiteOut

certification_app = typer.Typer(
    no_args_is_help=True,
    help="A site's certifications: proposed by its member, counted for placement once the operator attests them.")

Site = Annotated[str, typer.Argument(help="site id or name")]
Kind = Annotated[CertificationKind, typer.Argument(help="the kind of certification")]


def _day(value: datetime) -> date:
    return value.date()


@certification_app.command("propose")
@friendly_errors
def certification_propose(
    site: Site, kind: Kind,
    expires: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="the certificate's expiry, YYYY-MM-DD")],
    activities: Annotated[str, typer.Option(help="HDS activities it covers, comma-separated, e.g. 1,2,5")] = "",
    server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None,
) -> None:
    """Propose a certification of a site (or its renewal); the federation's operator then attests it."""
    body = CertificationIn(kind=kind, expires_on=_day(expires),
                           activities=[int(a) for a in activities.split(",") if a.strip()])
    with client(server, token) as api:
        shown = api.propose_certification(site, body)
    _show(shown)
    console.print(f"[dim]proposed: it counts for placement once the federation's operator runs "
                  f"'civicloud site certification attest {shown.name} {kind.value} …'[/]", highlight=False)


@certification_app.command("attest")
@friendly_errors
def certification_attest(
    site: Site, kind: Kind,
    number: Annotated[str, typer.Option(help="the certificate's number")],
    issuer: Annotated[str, typer.Option(help="the certification body that issued it")],
    valid_from: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="valid from, YYYY-MM-DD")],
    expires: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="expires on, YYYY-MM-DD")],
    server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None,
) -> None:
    """Attest a site's certification, having seen the certificate (the federation's operator only)."""
    body = CertificationAttest(certificate_number=number, issuer=issuer, valid_from=_day(valid_from),
                               expires_on=_day(expires))
    with client(server, token) as api:
        _show(api.attest_certification(site, kind.value, body))


@certification_app.command("revoke")
@friendly_errors
def certification_revoke(site: Site, kind: Kind, server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Withdraw the attestation of a site's certification (the federation's operator only)."""
    with client(server, token) as api:
        _show(api.revoke_attestation(site, kind.value))


def _show(site: SiteOut) -> None:
    rows = [(c.kind.value, ",".join(map(str, c.activities)) or "—",
             "attested" if c.attested else "proposed", c.certificate_number or "—", c.issuer or "—",
             f"{c.valid_from or '…'} → {c.expires_on}", c.attested_by or "—") for c in site.certifications]
    console.print(table(f"Certifications of {site.name}",
                        ["kind", "activities", "status", "number", "issuer", "validity", "attested by"], rows))
