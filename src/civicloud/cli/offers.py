"""``civicloud site offer``: what a lender lends, when, and to whom — set and shown as a weekly timeline."""

from __future__ import annotations

import re
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from civicloud.cli.common import DEFAULT_SERVER, ServerOpt, TokenOpt, client, console, friendly_errors, table
from civicloud.domain.offers import DAY_NAMES
from civicloud.errors import InvalidInput
from civicloud.wire import OfferOut, OfferSet, WindowIn

offer_app = typer.Typer(no_args_is_help=True, help="What a site (or one of its hosts) lends, and when.")
_WINDOW = re.compile(r"^\s*(?P<days>[a-z,\-]+)\s+(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})"
                     r"\s+(?P<share>\d+(\.\d+)?)\s*%?\s*$")


def parse_days(spec: str) -> list[str]:
    days: list[str] = []
    for part in spec.split(","):
        first, _, last = part.partition("-")
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise InvalidInput(f"{part!r} is not a day or a range of days (mon … sun, e.g. mon-fri or sat,sun)",
                               code="civicloud.offer.invalid_window", field="window")
        a, b = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        span = range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)]
        days += [DAY_NAMES[d] for d in span if DAY_NAMES[d] not in days]
    return days


def parse_window(spec: str) -> WindowIn:
    """'mon-fri 08:00-19:00 20' -> a window lending 20 % on weekdays from 8 to 19 h."""
    match = _WINDOW.match(spec.lower())
    if not match:
        raise InvalidInput(f"{spec!r} is not a window; write DAYS HH:MM-HH:MM SHARE, e.g. 'mon-fri 20:00-07:00 80'",
                           code="civicloud.offer.invalid_window", field="window")
    return WindowIn(days=parse_days(match["days"]), start=match["start"], end=match["end"],
                    share_percent=float(match["share"]))


@offer_app.command("set")
@friendly_errors
def offer_set(
    site: Annotated[str, typer.Argument(help="site id or name")],
    committed: Annotated[float, typer.Option(help="% lent at all times, the room for guaranteed work")] = 0,
    default: Annotated[float, typer.Option(help="% lent when no window is open")] = 0,
    window: Annotated[list[str] | None, typer.Option(help="'DAYS HH:MM-HH:MM SHARE', repeatable")] = None,
    borrowers: Annotated[str, typer.Option(help="categories that may borrow, comma-separated; empty: all")] = "",
    notice: Annotated[int, typer.Option(help="reclaim notice in seconds")] = 30,
    host: Annotated[str | None, typer.Option(help="set this host's own offer instead of the site's")] = None,
    server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None,
) -> None:
    """Set a site's offer, e.g. --committed 10 --window 'mon-fri 08:00-19:00 20' --default 80."""
    body = OfferSet(committed_percent=committed, default_percent=default,
                    windows=[parse_window(w) for w in window or []],
                    borrower_categories=[c.strip() for c in borrowers.split(",") if c.strip()],
                    reclaim_notice_s=notice)
    with client(server, token) as api:
        offer = api.set_host_offer(host, body) if host else api.set_offer(site, body)
    show_offer(offer)


@offer_app.command("show")
@friendly_errors
def offer_show(site: Annotated[str, typer.Argument(help="site id or name")],
               host: Annotated[str | None, typer.Option(help="show this host's offer")] = None,
               server: ServerOpt = DEFAULT_SERVER, token: TokenOpt = None) -> None:
    """Show a site's offer and its weekly timeline."""
    with client(server, token) as api:
        offer = api.get_host_offer(host) if host else api.get_offer(site)
    show_offer(offer)


def _cell(share: float) -> Text:
    if share <= 0:
        return Text("· ", style="dim")
    style = "bold green" if share >= 60 else "yellow" if share >= 20 else "red"
    return Text(("█" if share >= 60 else "▆" if share >= 20 else "▂") * 2, style=style)


def show_offer(offer: OfferOut) -> None:
    if offer.updated_at is None:
        console.print("[yellow]no offer set: this site lends nothing[/]")
    whom = ", ".join(c.value for c in offer.borrower_categories) or "every category"
    change = f", until {offer.next_change_at:%a %H:%M} UTC" if offer.next_change_at else ""
    console.print(f"lends now [bold]{offer.lent_now_percent:g} %[/]{change} · committed {offer.committed_percent:g} % "
                  f"· default {offer.default_percent:g} % · to {whom} · reclaim notice {offer.reclaim_notice_s} s")
    if offer.windows:
        console.print(table("Windows (site's local time)", ["days", "from", "to", "lends"],
                            [(",".join(w.days), w.start, w.end, f"{w.share_percent:g} %") for w in offer.windows]))
    # Two characters per hour, no padding: a week fits an 80-column terminal.
    grid = Table(title="Week, hour by hour (local time): █ ≥ 60 %  ▆ ≥ 20 %  ▂ < 20 %  · nothing",
                 title_justify="left", box=None, padding=(0, 0), show_header=True, header_style="dim")
    grid.add_column("", width=4, no_wrap=True)
    for h in range(24):
        grid.add_column(f"{h:02d}", width=2, no_wrap=True)
    for day, hours in zip(DAY_NAMES, offer.timeline, strict=True):
        grid.add_row(day, *[_cell(s) for s in hours])
    console.print(grid)
