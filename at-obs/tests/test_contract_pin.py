"""at-obs depends on at-core through a version range, never a path."""

from __future__ import annotations

import importlib.metadata as md

from packaging.requirements import Requirement

import at_obs


def test_at_core_is_pinned_to_the_0_1_line_from_0_1_6() -> None:
    reqs = [Requirement(r) for r in md.requires("at-obs") or []]
    core = next(r for r in reqs if r.name == "at-core")
    # 0.1.6 added consume_batches(linger_s=...), the recorder's fetch linger;
    # 0.1.5 added runtime.serving (the settled heap); 0.1.4 the market-data batch event.
    # 0.1.3 added the broker mismatch event (0.1.2 the service kit and origin checks); 0.2 may break
    assert core.specifier.contains("0.1.6") and core.specifier.contains("0.1.9")
    assert not core.specifier.contains("0.1.5") and not core.specifier.contains("0.2.0")
    assert core.url is None
    assert md.version("at-core").startswith("0.1.")
    assert at_obs.__version__
