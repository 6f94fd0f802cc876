"""The committees file is parsed strictly: a typo names the file, the committee and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from at_agents.adapters.committee_file import load_committee_file
from at_agents.bootstrap import check_config
from at_agents.config import AgentsSettings
from at_agents.errors import ConfigError

GOOD = """
committees:
  - name: mine
    rule: weighted_mean
    members:
      - {agent_id: signal_follower, weight: "1"}
"""


def test_the_shipped_file_and_a_minimal_one_parse(tmp_path: Path) -> None:
    assert load_committee_file(None).committees
    f = tmp_path / "c.yaml"
    f.write_text(GOOD)
    assert [c.name for _, c in load_committee_file(str(f)).committees] == ["mine"]


def test_a_typo_in_a_member_names_the_file_the_committee_and_the_field(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(GOOD.replace('weight: "1"', 'wieght: "1"'))
    with pytest.raises(ConfigError) as err:
        load_committee_file(str(f))
    assert err.value.where == str(f)
    assert "committee mine, field members.0.wieght: unknown key" in err.value.reason


def test_an_unknown_top_level_key_and_a_missing_file_are_refused(tmp_path: Path) -> None:
    f = tmp_path / "c.yaml"
    f.write_text(GOOD + "comittees: []\n")
    with pytest.raises(ConfigError, match="field comittees: unknown key"):
        load_committee_file(str(f))
    with pytest.raises(ConfigError, match="cannot read"):
        load_committee_file(str(tmp_path / "nope.yaml"))


def test_check_config_names_each_committee_and_refuses_an_unknown_agent(tmp_path: Path) -> None:
    assert any(line.startswith("default: weighted_mean") for line in check_config(AgentsSettings()))
    f = tmp_path / "c.yaml"
    f.write_text(GOOD.replace("signal_follower", "signal_folower"))
    with pytest.raises(ConfigError, match="unknown agent 'signal_folower'"):
        check_config(AgentsSettings(committees_file=str(f)))


def test_the_readmes_annotated_example_is_valid_as_it_is(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    (block,) = [b.split("```", 1)[0] for b in readme.split("```yaml\n")[1:] if b.startswith("committees:")]
    f = tmp_path / "c.yaml"
    f.write_text(block)
    assert [c.name for _, c in load_committee_file(str(f)).committees] == ["mine"]
