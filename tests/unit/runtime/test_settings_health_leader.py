"""Pure parts of the runtime: flags and environment, probes, the Lease rule."""

from __future__ import annotations

import pytest

from modelscaler.runtime.http import Health
from modelscaler.runtime.leader import LeaseRecord, may_acquire
from modelscaler.runtime.settings import parse_settings


def test_flags_override_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELSCALER_TICK_SECONDS", "5")
    monkeypatch.setenv("MODELSCALER_NAMESPACES", "a, b")
    assert parse_settings([]).tick_seconds == 5.0
    assert parse_settings([]).namespaces == ("a", "b")
    settings = parse_settings(["--tick", "1.5", "--namespace", "c"])
    assert settings.tick_seconds == 1.5
    assert settings.namespaces == ("c",)
    assert not settings.clusterwide


def test_cluster_wide_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MODELSCALER_NAMESPACES", raising=False)
    assert parse_settings([]).clusterwide


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [(["--tick", "0"], "--tick"), (["--lease-renew", "20", "--lease-duration", "10"], "--lease-renew")],
)
def test_bad_flags_name_the_flag(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        parse_settings(argv)
    assert exit_info.value.code == 2
    assert fragment in capsys.readouterr().err


def test_liveness_fails_after_missed_ticks_only_for_the_leader() -> None:
    leader = True
    health = Health(tick_seconds=2, liveness_ticks=5, started_at=100.0, is_leader=lambda: leader)
    assert health.alive(105.0)[0]
    assert not health.alive(111.0)[0]  # 11 s > 5 ticks x 2 s without a successful tick
    health.last_tick_ok = 110.0
    assert health.alive(111.0)[0]
    leader = False
    assert health.alive(1000.0) == (True, "standby")


def test_readiness_waits_for_watches_and_first_tick() -> None:
    health = Health(tick_seconds=2, liveness_ticks=5, started_at=0.0, is_leader=lambda: True)
    assert not health.ready()[0]
    health.watches_started = True
    assert health.ready() == (False, "waiting for the first tick")
    health.last_tick_ok = 1.0
    assert health.ready() == (True, "leader")


@pytest.mark.parametrize(
    ("record", "unchanged_for", "expected"),
    [
        (None, 0.0, True),  # no Lease yet
        (LeaseRecord(None, "1"), 0.0, True),  # released
        (LeaseRecord("me", "1"), 0.0, True),  # ours: renew
        (LeaseRecord("other", "1"), 3.9, False),  # held and fresh
        (LeaseRecord("other", "1"), 4.0, True),  # not renewed for a whole duration
    ],
)
def test_may_acquire(record: LeaseRecord | None, unchanged_for: float, expected: bool) -> None:
    assert may_acquire(record, "me", unchanged_for, duration=4.0) is expected
