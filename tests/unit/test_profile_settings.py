"""Placement profiles are a parameter: CIVICLOUD_PLACEMENT_WEIGHTS replaces a class's scorers and weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civicloud.domain import ServiceClass
from civicloud.errors import InvalidInput
from civicloud.scheduler.profiles import GUARANTEED, HARVEST
from civicloud.services.placement import PlacementSettings
from civicloud.settings import Settings


def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, weights: object) -> Settings:
    monkeypatch.setenv("CIVICLOUD_PLACEMENT_WEIGHTS", json.dumps(weights))
    return Settings(data_dir=tmp_path)


def scorers(profile) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    return [(type(s).__name__, w) for s, w in profile.scorers]


def test_the_built_in_profiles_by_default(tmp_path: Path) -> None:
    profiles = PlacementSettings.of(Settings(data_dir=tmp_path)).profiles
    assert profiles == {ServiceClass.HARVEST: HARVEST, ServiceClass.GUARANTEED: GUARANTEED}


def test_weights_from_the_environment_replace_one_class_and_keep_the_filters(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    profiles = PlacementSettings.of(settings(tmp_path, monkeypatch, {"harvest": {"low_carbon": 5, "pack": 1}})).profiles
    harvest = profiles[ServiceClass.HARVEST]
    assert [w for _s, w in harvest.scorers] == [5.0, 1.0] and len(harvest.scorers) == 2
    assert scorers(harvest) != scorers(HARVEST)
    assert [type(f) for f in harvest.filters] == [type(f) for f in HARVEST.filters]  # rules stay
    assert profiles[ServiceClass.GUARANTEED] is GUARANTEED


@pytest.mark.parametrize(("weights", "code"), [
    ({"harvest": {"cheapest": 1}}, "civicloud.scheduler.unknown_plugin"),
    ({"harvest": {"pack": 0}}, "civicloud.scheduler.invalid_weight"),
    ({"guaranteed": {"spread": 101}}, "civicloud.scheduler.invalid_weight"),
    ({"harvest": {}}, "civicloud.scheduler.no_scorer"),
])
def test_wrong_weights_stop_the_server_with_the_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       weights: object, code: str) -> None:
    with pytest.raises(InvalidInput) as refusal:
        PlacementSettings.of(settings(tmp_path, monkeypatch, weights))
    assert refusal.value.code == code


def test_an_unknown_class_is_refused_by_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="placement_weights"):
        settings(tmp_path, monkeypatch, {"batch": {"pack": 1}})
