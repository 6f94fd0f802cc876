"""The pure comparison of exec-sim's book with a broker's: what differs, and when it is a mismatch."""

from __future__ import annotations

from decimal import Decimal

from tests.helpers import engine, factory

from at_core.events import BrokerMismatchEvent
from at_exec_sim import bootstrap
from at_exec_sim.adapters.broker_checks import BrokerChecks, BrokerSeen
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.domain.broker_check import (
    BalanceBaseline,
    BrokerWatch,
    balance_difference,
    describe,
    episode_root,
    position_differences,
)
from at_exec_sim.domain.ports import Balance

D = Decimal
T = 1_795_050_000_000_000_000


def test_positions_differ_by_instrument_with_a_missing_side_read_as_flat() -> None:
    diffs = position_differences({"MESZ6.X": D(2)}, {"MESZ6.X": D(3), "MNQZ6.X": D(-1)})
    assert [(d.item, d.ours, d.theirs) for d in diffs] == [("MESZ6.X", D(2), D(3)), ("MNQZ6.X", D(0), D(-1))]
    assert describe(diffs, "X") == "MESZ6.X: exec-sim 2, X 3; MNQZ6.X: exec-sim 0, X -1"
    assert position_differences({"A": D(1)}, {"A": D(1)}) == []


def test_the_balance_change_is_compared_with_the_ledgers_within_the_tolerance() -> None:
    base = BalanceBaseline(ours=D(50000), theirs=D("48211.50"))  # a prop account never starts at the profile's
    assert balance_difference("USD", D("49998.00"), D("48209.20"), base, D("1.00"), "change") is None  # 0.30 apart
    diff = balance_difference("USD", D("49998.00"), D("48180.00"), base, D("1.00"), "change")
    assert diff is not None and (diff.kind, diff.item, diff.ours, diff.theirs) == ("balance", "USD", D(-2), D("-31.50"))
    assert balance_difference("USD", D(1), D(900), None, D(1), "change") is None  # no baseline yet
    assert balance_difference("USD", D(50000), D("49999.01"), None, D("1.00"), "absolute") is None
    assert balance_difference("USD", D(50000), D(40000), None, D("1.00"), "absolute") is not None
    assert balance_difference("USD", D(50000), D(1), base, D("1.00"), "off") is None


def test_a_difference_is_a_mismatch_only_on_the_second_check_in_a_row_and_is_restored_once() -> None:
    watch = BrokerWatch()
    diffs = position_differences({"A": D(2)}, {"A": D(3)})
    assert watch.observe(diffs, T) is None  # once
    assert watch.observe(diffs, T + 30) == "mismatch"
    assert watch.root == episode_root(T)  # the events derive from when it was first seen
    assert watch.observe(diffs, T + 60) is None  # it stands: not again
    assert watch.observe([], T + 90) == "restored"
    assert watch.observe([], T + 120) is None


def test_a_position_difference_that_changes_between_checks_starts_over() -> None:
    watch = BrokerWatch()
    assert watch.observe(position_differences({"A": D(2)}, {"A": D(3)}), T) is None
    assert watch.observe(position_differences({"A": D(2)}, {"A": D(4)}), T + 1) is None  # a fill on its way
    assert watch.observe([], T + 2) is None


def test_a_balance_beyond_the_tolerance_twice_is_a_mismatch_though_its_amount_moved() -> None:
    watch = BrokerWatch()
    base = BalanceBaseline(D(0), D(0))
    first = balance_difference("USD", D(0), D(-25), base, D(1), "change")
    second = balance_difference("USD", D(0), D(-26), base, D(1), "change")
    assert first is not None and second is not None
    assert watch.observe([first], T) is None
    assert watch.observe([second], T + 1) == "mismatch"


def _checks_over_a_mismatch(seed: int) -> list[BrokerMismatchEvent | None]:
    """One account's readings: agreeing, then one contract more at the broker twice, then agreeing."""
    eng = engine(seed=seed)
    rt = eng.accounts["topstep-50k-1"]
    f = factory(seed=seed)
    checks = BrokerChecks("change", D("1.00"))
    cash = {"USD": Balance("USD", D(48000), D(0), D(48000))}
    readings = [{}, {"MESZ6.X": D(1)}, {"MESZ6.X": D(1)}, {"MESZ6.X": D(1)}, {}]
    out = []
    for i, positions in enumerate(readings):
        event = checks.judge(f, rt, "X", BrokerSeen(positions, cash), T + i * 30 * 10**9, halts=True)
        out.append(event)
    return out


def test_the_events_of_one_mismatch_have_ids_derived_from_it_the_same_on_every_run() -> None:
    first, again = _checks_over_a_mismatch(1), _checks_over_a_mismatch(2)  # other seeds: other random ids
    assert [e and e.status for e in first] == [None, None, "mismatch", None, "restored"]
    mismatch, restored = first[2], first[4]
    assert (mismatch.event_id, restored.event_id) == (again[2].event_id, again[4].event_id)
    assert mismatch.halted and not restored.halted and restored.correlation_id == mismatch.event_id
    assert mismatch.event_id != restored.event_id


def test_checks_run_live_every_interval_and_never_in_replay_or_at_zero() -> None:
    assert bootstrap.check_interval(ExecSimSettings()) == 30.0
    assert bootstrap.check_interval(ExecSimSettings(broker_check_interval_s=0)) is None
    assert bootstrap.check_interval(ExecSimSettings(replay_mode=True)) is None
    settings = ExecSimSettings(broker_balance_check="absolute", broker_balance_tolerance="2.50")
    assert (settings.broker_balance_check, settings.broker_balance_tolerance) == ("absolute", D("2.50"))
