"""The recorder's consumers bind the durables provisioning makes for it, one per stream."""

from __future__ import annotations

from at_core import subjects
from at_core.constants import SERVICE_OBS
from at_core.durables import durables_of
from at_obs.config import ObsSettings
from at_obs.consumers import durable_name


def test_the_recorder_binds_one_provisioned_durable_per_stream_reading_everything() -> None:
    settings = ObsSettings()
    provisioned = {d.name(settings.durable_prefix): d for d in durables_of(SERVICE_OBS) if not d.optional}
    ours = {durable_name(settings, spec): spec for spec in subjects.STREAMS}
    assert set(ours) == set(provisioned)
    for name, spec in ours.items():
        assert provisioned[name].stream == spec.name and provisioned[name].filter_subject == subjects.ALL
