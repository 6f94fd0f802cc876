"""Replay and dashboards against the whole stack as real processes.

* A session recorded through the stack (services on the event clock, seeded) and replayed by
  ``at-replay --verify`` three times, each into a fresh stack, gives one output hash: the
  recorded one.
* After alerts went through a live stack, every Grafana panel's query returns data from a real
  Prometheus scraping the services.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from at_core import subjects
from at_obs.adapters.recordings import load_audit
from at_obs.domain.replay import output_hash, split
from e2e.conftest import require_tool
from e2e.obs_support import (
    REPLAY_ENV,
    Prometheus,
    at_replay,
    dashboard_env,
    dashboard_traffic,
    has_data,
    panel_queries,
    record_session,
    recorded_head,
    start_quiet,
)
from e2e.stack_harness import LiveStack

pytestmark = [pytest.mark.stack, pytest.mark.slow]


async def test_a_recorded_session_replays_three_times_through_fresh_stacks_with_one_output_hash(
    tmp_path: Path,
) -> None:
    live = LiveStack(tmp_path / "recorded", extra_env=REPLAY_ENV)
    await live.start()
    try:
        await record_session(live)
        stored = {
            e.event_id for e in live.tracer.all if subjects.stream_for_subject(subjects.subject_for(e)) is not None
        }
        assert await recorded_head(live, len(stored)) == len(stored)
    finally:
        await live.stop()
    recording = tmp_path / "recorded" / "audit.sqlite3"
    inputs, outputs = split(load_audit(str(recording)))
    assert {e.event_type for e in inputs} == {"market_data", "signal"}
    assert sum(e.event_type == "fill" for e in outputs) == 5

    runs = []
    for i in range(3):
        target = LiveStack(tmp_path / f"replay{i}", extra_env=REPLAY_ENV)
        await start_quiet(target)
        try:
            runs.append(await at_replay(target, recording, tmp_path / f"replay{i}"))
        finally:
            await target.stop()

    for run in runs:
        assert run.exit_code == 0, run.output
        assert f"identical: {len(outputs)} recorded outputs reproduced byte for byte" in run.output
    assert {run.manifest["output_sha256"] for run in runs} == {output_hash(outputs)}
    # one manifest for the three runs (code_version aside: a commit may land while this runs)
    manifests = [{k: v for k, v in run.manifest.items() if k != "code_version"} for run in runs]
    assert manifests[0] == manifests[1] == manifests[2]
    assert all(run.manifest["code_version"] not in ("", "unknown") for run in runs)
    assert runs[0].manifest["seed"] == int(REPLAY_ENV["AT_EXEC_SIM_SEED"])
    assert runs[0].manifest["rule_profiles"], "risk decisions name their rule profile"


async def test_every_grafana_panel_has_data_in_prometheus_after_alerts_went_through_the_stack(
    tmp_path: Path,
) -> None:
    binary = require_tool("prometheus")
    live = LiveStack(tmp_path / "stack", extra_env=dashboard_env(tmp_path / "stack"))
    await live.start()
    prometheus = Prometheus(binary, live, tmp_path / "prometheus")
    prometheus.start()
    try:
        assert has_data(await prometheus.wait_for("count(up == 1) == 4")), prometheus.log()
        await dashboard_traffic(live)
        handled = time.time()
        # every service scraped after the first round: the second one moves every counter and
        # histogram between two scrapes, so rates and quantiles have something to show
        assert has_data(await prometheus.wait_for(f"min(timestamp(up)) > {handled}")), prometheus.log()
        await dashboard_traffic(live)

        deadline = time.monotonic() + 30
        empty = []
        for dashboard, title, expr in panel_queries():
            result = await prometheus.wait_for(expr, timeout=max(0.0, deadline - time.monotonic()))
            if not has_data(result):
                empty.append(f"{dashboard}: {title}: {expr} -> {result}")
        assert not empty, "\n".join(empty)
    finally:
        prometheus.stop()
        await live.stop()
