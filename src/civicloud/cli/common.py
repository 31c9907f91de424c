"""What every command shares: the API client options, error display, tables."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from civicloud.client import ApiClient
from civicloud.errors import CivicloudError

console = Console()
err_console = Console(stderr=True)
F = TypeVar("F", bound=Callable[..., Any])

ServerOpt = Annotated[str, typer.Option("--server", envvar="CIVICLOUD_SERVER_URL",
                                        help="URL of the control plane")]
TokenOpt = Annotated[str | None, typer.Option("--token", envvar="CIVICLOUD_API_TOKEN",
                                              help="API token, when the server requires one")]
DEFAULT_SERVER = "http://127.0.0.1:8750"


def client(server: str, token: str | None) -> ApiClient:
    return ApiClient(server, token=token)


def friendly_errors(fn: F) -> F:
    """Show a CivicloudError as 'error [code]: message' and exit 1, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except CivicloudError as exc:
            err_console.print(f"[bold red]error[/] [dim]\\[{exc.code}][/]: {exc.message}")
            raise typer.Exit(1) from None
        except ValidationError as exc:  # a value the API would refuse, caught before sending it
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "input"
            err_console.print(f"[bold red]error[/] [dim]\\[civicloud.request.invalid][/]: {where}: {first['msg']}",
                              highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        # Ids are for copying: never cut or wrapped, whatever the terminal's width.
        t.add_column(col, no_wrap=True, min_width=36) if col == "id" else t.add_column(col)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


STATE_STYLE = {"running": "green", "pending": "yellow", "failed": "red", "deleted": "dim",
               "stopped": "blue", "stopping": "magenta", "scheduled": "cyan", "provisioning": "cyan",
               "evicting": "bold yellow"}


def styled_state(state: str) -> str:
    return f"[{STATE_STYLE.get(state, 'white')}]{state}[/]"
