"""at-obs depends on at-core through a version range, never a path."""

from __future__ import annotations

import importlib.metadata as md

from packaging.requirements import Requirement

import at_obs


def test_at_core_is_pinned_to_the_0_1_line_from_0_1_1() -> None:
    reqs = [Requirement(r) for r in md.requires("at-obs") or []]
    core = next(r for r in reqs if r.name == "at-core")
    assert str(core.specifier) in ("<0.2,>=0.1.1", ">=0.1.1,<0.2")  # 0.1.1 added consume_batches
    assert core.url is None
    assert md.version("at-core").startswith("0.1.")
    assert at_obs.__version__
