"""The billing commands against a real control plane whose database holds the demo's September."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from civicloud.cli import app
from civicloud.cli.demo import free_port
from civicloud.cli.serve import ThreadedServer
from civicloud.settings import Settings
from civicloud.store import SqlUnitOfWork, make_engine, upgrade

from billing_scene import Ledger, demo_month

runner = CliRunner()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    settings = Settings(data_dir=tmp_path, database_url=None, bind_port=free_port(0), placement_interval_s=0.2,
                        operator_siret="20009300300016")
    engine = make_engine(settings.resolved_database_url())
    upgrade(engine)
    demo_month(Ledger(lambda: SqlUnitOfWork(engine)))  # September 2026, before the server's first roll-up
    engine.dispose()
    threaded = ThreadedServer(settings)
    threaded.start()
    yield threaded.url
    threaded.stop()


def cli(url: str | None, *args: str):  # type: ignore[no-untyped-def]
    return runner.invoke(app, [*args, *(["--server", url] if url else [])], env={"COLUMNS": "220"})


def test_bill_a_month_then_read_and_export_its_invoices(server: str, tmp_path: Path) -> None:
    run = cli(server, "billing", "run", "--period", "2026-09")
    assert run.exit_code == 0, run.output
    assert "12.07 € charged, 0.24 € operator fees, 11.83 € to lenders" in run.output
    assert "10.98 €" in run.output and "the operator (fees)" in run.output
    assert cli(server, "billing", "run", "--period", "2026-09").exit_code == 0  # again: the same run
    period_csv = tmp_path / "period.csv"
    assert cli(server, "billing", "export", "--period", "2026-09", "--output", str(period_csv)).exit_code == 0
    assert len(period_csv.read_text().strip().splitlines()) == 4

    listed = cli(server, "invoice", "list", "--member", "Bobigny")
    assert listed.exit_code == 0 and "INV-2026-09-0001" in listed.output and "11.20 €" in listed.output
    shown = cli(server, "invoice", "show", "INV-2026-09-0001", "--member", "Bobigny")
    assert shown.exit_code == 0 and "5.24 €" in shown.output and "5.96 €" in shown.output, shown.output
    out = tmp_path / "inv.csv"
    exported = cli(server, "invoice", "export", "INV-2026-09-0001", "--member", "Bobigny", "--output", str(out))
    assert exported.exit_code == 0 and len(out.read_text().strip().splitlines()) == 3
    pdf = tmp_path / "inv.pdf"
    facturx = cli(server, "invoice", "export", "INV-2026-09-0001", "--member", "Bobigny", "--output", str(pdf))
    assert facturx.exit_code == 0 and "Factur-X" in facturx.output and pdf.read_bytes().startswith(b"%PDF-")
    credit = cli(server, "invoice", "credit", "INV-2026-09-0001", "--amount", "1.20", "--reason", "outage")
    assert credit.exit_code == 0 and "AVO-2026-09-0001" in credit.output

    usage = cli(server, "usage", "show", "--member", "Drancy", "--from", "2026-09-01", "--to", "2026-10-01")
    assert usage.exit_code == 0 and "Drancy lent" in usage.output and "Bobigny" in usage.output
    showback = cli(server, "usage", "showback", "--member", "Bobigny", "--period", "2026-09")
    # 10.00 € after the 1.20 € credit note
    assert showback.exit_code == 0 and "10.00 € (invoiced)" in showback.output and "10.47 €" in showback.output, \
        showback.output
    power = cli(server, "host", "power", billed_host(server), "--idle-watts", "60", "--max-watts", "175")
    assert power.exit_code == 0 and "60 W at idle, 175 W at full load" in power.output
    books = cli(server, "price-book", "list")
    assert books.exit_code == 0 and "public at cost 16 Sep" in books.output
    refused = cli(server, "price-book", "add", "late", "--valid-from", "2026-09-20", "--vcpu-hour", "1")
    assert refused.exit_code == 1 and "civicloud.price_book.billed_period" in refused.output


def billed_host(url: str) -> str:
    from civicloud.client import ApiClient

    with ApiClient(url) as api:
        return next(h.id for h in api.list_hosts() if h.name == "hv1")


def test_cost_model_needs_no_server() -> None:
    result = cli(None, "pricing", "cost-model", "--hardware-eur", "20000", "--power-watts", "500", "--vcpus", "128",
                 "--memory-gib", "512", "--disk-gib", "10000", "--staff-eur-per-year", "3000",
                 "--other-eur-per-year", "1124", "--utilisation", "0.75")
    assert result.exit_code == 0 and "0.005351 €" in result.output and "9000.00 €" in result.output
    bad = cli(None, "pricing", "cost-model", "--hardware-eur", "1", "--power-watts", "1", "--vcpus", "0",
              "--memory-gib", "1", "--disk-gib", "1")
    assert bad.exit_code == 1 and "civicloud.pricing.invalid_input" in bad.output
