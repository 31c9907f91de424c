"""Capacity arithmetic: lendable = (total − reserved) × ratio × share, free = lendable − allocated."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from civicloud.domain import Host, Offer, Ratios, Resources, Window, check_offer
from civicloud.errors import InvalidInput

R = Resources


def make_host(total: Resources, *, reserved: Resources = R(), ratios: Ratios = Ratios(),
              allocated: Resources = R(), share: float = 100.0) -> Host:
    return Host(id="h", site_id="s", name="h", libvirt_uri="test:///default", total=total, reserved=reserved,
                ratios=ratios, allocated=allocated, generation=0, last_seen_at=datetime.now(UTC),
                lend_share_percent=share)


@pytest.mark.parametrize(("case", "host", "lendable", "free"), [
    ("default ratios, everything lent",
     make_host(R(16, 65536, 1000)), R(64, 65536, 1000), R(64, 65536, 1000)),
    ("half of it lent",
     make_host(R(16, 65536, 1000), share=50), R(32, 32768, 500), R(32, 32768, 500)),
    ("nothing lent",
     make_host(R(16, 65536, 1000), share=0), R(0, 0, 0), R(0, 0, 0)),
    ("the owner's reserve comes off before the ratio",
     make_host(R(16, 65536, 1000), reserved=R(4, 16384, 200)), R(48, 49152, 800), R(48, 49152, 800)),
    ("reserve, then ratio, then share",
     make_host(R(16, 65536, 1000), reserved=R(4, 16384, 200), share=50), R(24, 24576, 400), R(24, 24576, 400)),
    ("custom ratios",
     make_host(R(8, 1000, 100), ratios=Ratios(cpu=1.0, ram=1.5, disk=2.0)), R(8, 1500, 200), R(8, 1500, 200)),
    ("allocations come off the lendable",
     make_host(R(16, 65536, 1000), share=50, allocated=R(6, 12288, 60)), R(32, 32768, 500), R(26, 20480, 440)),
    ("rounded down, never a fraction promised",
     make_host(R(3, 1001, 11), ratios=Ratios(cpu=1.0), share=50), R(1, 500, 5), R(1, 500, 5)),
    ("0.7 × 10 counts as 7 despite binary floats",
     make_host(R(10, 10, 10), ratios=Ratios(cpu=1.0), share=70), R(7, 7, 7), R(7, 7, 7)),
    ("reserve above the total lends nothing, never a negative amount",
     make_host(R(4, 1024, 10), reserved=R(8, 2048, 20)), R(0, 0, 0), R(0, 0, 0)),
    ("GPUs take the reserve and the share but no overcommit ratio",
     make_host(R(16, 65536, 1000, 4), reserved=R(0, 0, 0, 1), ratios=Ratios(cpu=2.0), share=50,
               allocated=R(0, 0, 0, 1)),
     R(16, 32768, 500, 1), R(16, 32768, 500, 0)),
    ("an offer cut below the allocations leaves negative free room",
     make_host(R(16, 65536, 1000), share=10, allocated=R(10, 8192, 0)), R(6, 6553, 100), R(-4, -1639, 100)),
])
def test_lendable_and_free(case: str, host: Host, lendable: Resources, free: Resources) -> None:
    assert host.lendable() == lendable
    assert host.free() == free


@pytest.mark.parametrize(("request_", "room", "fits", "short"), [
    (R(2, 4096, 20), R(2, 4096, 20), True, []),
    (R(2, 4096, 20), R(64, 65536, 1000), True, []),
    (R(3, 4096, 20), R(2, 4096, 20), False, ["vcpus"]),
    (R(2, 4097, 20), R(2, 4096, 20), False, ["memory_mib"]),
    (R(2, 4096, 21), R(2, 4096, 20), False, ["disk_gib"]),
    (R(9, 9999, 99), R(0, 0, 0), False, ["vcpus", "memory_mib", "disk_gib"]),
    (R(0, 0, 0), R(-1, 0, 0), False, ["vcpus"]),
    (R(2, 4096, 20, 1), R(64, 65536, 1000, 0), False, ["gpus"]),
    (R(2, 4096, 20, 1), R(64, 65536, 1000, 1), True, []),
])
def test_fits_and_shortfalls(request_: Resources, room: Resources, fits: bool, short: list[str]) -> None:
    assert request_.fits_in(room) is fits
    assert request_.shortfalls(room) == short


def test_resources_add_and_subtract() -> None:
    assert R(1, 2, 3) + R(10, 20, 30) == R(11, 22, 33)
    assert R(11, 22, 33) - R(10, 20, 30) == R(1, 2, 3)
    assert R(1, 2, 3, 4) + R(10, 20, 30, 40) - R(1, 2, 3, 4) == R(10, 20, 30, 40)


@pytest.mark.parametrize(("field", "value"), [
    ("cpu", 0.0), ("cpu", -1.0), ("ram", 64.5), ("disk", float("nan")), ("ram", float("inf")),
])
def test_invalid_ratio_is_refused(field: str, value: float) -> None:
    with pytest.raises(InvalidInput) as info:
        Ratios(**{field: value})
    assert info.value.code == "civicloud.host.invalid_ratio"
    assert info.value.field == f"{field}_ratio"


@pytest.mark.parametrize("value", [0.01, 1.0, 64.0])
def test_valid_ratios(value: float) -> None:
    assert Ratios(cpu=value, ram=value, disk=value).cpu == value


SHARES = [
    (0, True), (50, True), (100, True), (33.3, True),
    (-0.1, False), (100.1, False), (float("nan"), False), (float("inf"), False),
]


@pytest.mark.parametrize(("where", "field"), [
    ("committed", "committed_percent"), ("default", "default_percent"), ("window", "windows.0.share_percent"),
])
@pytest.mark.parametrize(("share", "ok"), SHARES)
def test_offer_share_bounds(where: str, field: str, share: float, ok: bool) -> None:
    # The share an offer lends, wherever it is given, is a percentage (check_share became check_offer).
    if where == "committed":
        offer = Offer(committed_percent=share)
    elif where == "default":
        offer = Offer(default_percent=share)
    else:
        offer = Offer(windows=(Window(frozenset({0}), time(8), time(19), share),))
    if ok:
        assert check_offer(offer) == offer
    else:
        with pytest.raises(InvalidInput) as info:
            check_offer(offer)
        assert info.value.code == "civicloud.offer.invalid_share"
        assert info.value.field == field
