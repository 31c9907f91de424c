"""Every change of a workload's state goes through the domain's transition table, whichever path asks for it.

The repository's compare-and-swap is the one write path of a workload's state (the claims' batch writes
pending → scheduled, which the table allows): a change the table forbids is refused with
``civicloud.workload.invalid_transition`` and changes nothing, on both databases.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from civicloud.domain import WorkloadState
from civicloud.domain.workloads import TRANSITIONS, can_transition
from civicloud.errors import Conflict
from civicloud.store import UnitOfWork

from store_scene import NOW, Scene, make_workload

S = WorkloadState


def test_every_forbidden_transition_is_refused_and_every_allowed_one_made(
        uow_factory: Callable[[], UnitOfWork], scene: Scene) -> None:
    refused = allowed = 0
    for current in S:
        w = make_workload(scene.bobigny, scene.small, f"w-{current.value}", state=current,
                          host_id=None if current is S.PENDING else scene.h1)
        with uow_factory() as uow:
            uow.workloads.add(w)
            uow.commit()
        for target in S:
            with uow_factory() as uow:
                if can_transition(current, target):
                    assert uow.workloads.update(w.id, current, now=NOW, state=target), (current, target)
                    allowed += 1
                    continue  # rolled back on leaving the block: the workload stays in ``current``
                with pytest.raises(Conflict) as refusal:
                    uow.workloads.update(w.id, current, now=NOW, state=target)
                assert refusal.value.code == "civicloud.workload.invalid_transition"
                assert f"from {current.value} to {target.value}" in refusal.value.message
                refused += 1
            with uow_factory() as uow:
                stored = uow.workloads.get(w.id)
            assert stored is not None and stored.state is current  # nothing changed
    # The table is what the loop walked: deleted is final, and every state may go to itself.
    assert TRANSITIONS[S.DELETED] == frozenset()
    assert refused == sum(1 for a in S for b in S if not can_transition(a, b)) > 0
    assert allowed == sum(1 for a in S for b in S if can_transition(a, b))


def test_a_change_that_keeps_the_state_is_no_transition(uow_factory: Callable[[], UnitOfWork],
                                                        scene: Scene) -> None:
    w = make_workload(scene.bobigny, scene.small, "quiet", state=S.DELETED, host_id=scene.h1)
    with uow_factory() as uow:
        uow.workloads.add(w)
        assert uow.workloads.update(w.id, S.DELETED, now=NOW, message="kept for the record")
        with pytest.raises(Conflict):
            uow.workloads.update(w.id, S.DELETED, now=NOW, state=S.RUNNING)
