"""One control-plane replica of the two-replica audit test: its own app on the shared PostgreSQL database,
creating workloads over its API while its control loop places them."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from civicloud.api import create_app
from civicloud.settings import Settings
from civicloud.store import make_engine


def run(url: str, tag: str, member_id: str, count: int, start_at: float) -> tuple[int, int]:
    """(workloads created, workloads this replica's loop placed). Starts at ``start_at`` (both race)."""
    engine = make_engine(url)
    placed = created = 0
    with tempfile.TemporaryDirectory() as data:
        app = create_app(Settings(data_dir=Path(data), database_url=url, api_token=None), engine=engine,
                         background=False)
        with TestClient(app, raise_server_exceptions=False) as client:
            time.sleep(max(0.0, start_at - time.time()))
            for i in range(count):
                answer = client.post("/api/v1/workloads", json={"member_id": member_id, "offering_id": "vm-small",
                                                                 "name": f"{tag}-{i}"})
                created += answer.status_code == 202
                if i % 4 == 3:
                    placed += sum(o.placed for o in app.state.placer.run_once())
            placed += sum(o.placed for o in app.state.placer.run_once())
    engine.dispose()
    return created, placed
