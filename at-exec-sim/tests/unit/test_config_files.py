"""The accounts and profiles files: unknown keys refused, errors naming the file, the account and the field;
profiles_dir adds to the shipped profiles; check-config validates without starting."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from at_exec_sim.bootstrap import check_config
from at_exec_sim.config import ExecSimSettings
from at_exec_sim.domain.accounts import load_accounts, load_profiles
from at_exec_sim.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_a_typo_in_an_accounts_key_names_the_file_the_account_and_the_field(tmp_path: Path) -> None:
    f = _write(tmp_path / "accounts.yaml", "accounts:\n  - {account_id: mine-1, profle: retail}\n")
    with pytest.raises(ConfigError) as err:
        load_accounts(f, load_profiles())
    text = str(err.value)
    assert str(f) in text and "account mine-1" in text and "field profle: unknown key" in text


def test_a_misspelt_venue_is_refused_not_silently_simulated(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.yaml", "accounts:\n  - {account_id: fx-1, profile: retail, venu: OANDA}\n")
    with pytest.raises(ConfigError, match="account fx-1, field venu: unknown key"):
        load_accounts(f, load_profiles())


def test_an_unknown_profile_names_the_account_and_lists_the_known_ones(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.yaml", "accounts:\n  - {account_id: x-1, profile: topstep_5k}\n")
    with pytest.raises(
        ConfigError, match=r"account x-1, field profile: unknown profile 'topstep_5k' \(known: .*retail"
    ):
        load_accounts(f, load_profiles())


def test_duplicate_accounts_and_bad_yaml_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    dup = _write(
        tmp_path / "d.yaml", "accounts:\n  - {account_id: a, profile: retail}\n  - {account_id: a, profile: retail}\n"
    )
    with pytest.raises(ConfigError, match="account a is listed twice"):
        load_accounts(dup, load_profiles())
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_accounts(_write(tmp_path / "b.yaml", "accounts: [\n"), load_profiles())
    with pytest.raises(ConfigError, match="cannot read"):
        load_accounts(tmp_path / "missing.yaml", load_profiles())


def test_profiles_dir_adds_to_the_shipped_profiles_and_replaces_one_of_the_same_id(tmp_path: Path) -> None:
    shipped = load_profiles()
    mine = dict(yaml.safe_load((Path(__file__).parents[2] / "src/at_exec_sim/data/profiles/retail.yaml").read_text()))
    _write(tmp_path / "mine.yaml", yaml.safe_dump({**mine, "profile_id": "my_retail", "version": "mine-1"}))
    _write(tmp_path / "retail.yaml", yaml.safe_dump({**mine, "version": "override-1"}))
    profiles = load_profiles(tmp_path)
    assert set(profiles) == set(shipped) | {"my_retail"}  # added, none lost
    assert profiles["retail"].version == "override-1"  # a local file with a shipped id wins


def test_a_profile_typo_names_the_file_the_profile_and_the_field(tmp_path: Path) -> None:
    _write(tmp_path / "p.yaml", "profile_id: mine\nversion: '1'\nstarting_balnce: 100\n")
    with pytest.raises(ConfigError) as err:
        load_profiles(tmp_path)
    assert "p.yaml" in str(err.value) and "profile mine, field starting_balnce: unknown key" in str(err.value)


def test_check_config_lists_the_accounts_and_refuses_an_unconfigured_venue(tmp_path: Path) -> None:
    lines = check_config(ExecSimSettings())
    assert any(line.startswith("paper-1: profile retail") for line in lines)
    f = _write(tmp_path / "a.yaml", "accounts:\n  - {account_id: fx-1, profile: retail, venue: OANDA}\n")
    with pytest.raises(ConfigError, match=r"account fx-1.*venue 'OANDA' is not configured"):
        check_config(ExecSimSettings(accounts_file=str(f)))


def test_two_accounts_on_one_broker_venue_are_refused_and_any_number_on_the_simulated_one_is_not(
    tmp_path: Path,
) -> None:
    f = _write(
        tmp_path / "a.yaml",
        "accounts:\n  - {account_id: demo-1, profile: retail, venue: PAPER}\n"
        "  - {account_id: demo-2, profile: retail, venue: PAPER}\n",
    )
    with pytest.raises(ConfigError, match=r"account demo-2.*venue PAPER is account demo-1's already"):
        check_config(ExecSimSettings(accounts_file=str(f), paper_enabled=True))
    f = _write(
        tmp_path / "b.yaml",
        "accounts:\n  - {account_id: demo-1, profile: retail, venue: PAPER}\n"
        "  - {account_id: sim-1, profile: retail}\n  - {account_id: sim-2, profile: retail}\n",
    )
    assert len(check_config(ExecSimSettings(accounts_file=str(f), paper_enabled=True))) == 3


def test_the_check_config_command_exits_2_naming_the_problem_and_0_when_usable(tmp_path: Path) -> None:
    f = _write(tmp_path / "a.yaml", "accounts:\n  - {account_id: mine-1, profle: retail}\n")
    code = "from at_exec_sim.main import run; run()"
    env = {"PATH": "/usr/bin:/bin", "AT_EXEC_SIM_ACCOUNTS_FILE": str(f)}
    bad = subprocess.run([sys.executable, "-c", code, "check-config"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "field profle: unknown key" in bad.stderr
    env.pop("AT_EXEC_SIM_ACCOUNTS_FILE")
    good = subprocess.run([sys.executable, "-c", code, "check-config"], env=env, capture_output=True, text=True)
    assert good.returncode == 0 and "ok: 5 accounts" in good.stdout


def test_the_readmes_example_files_are_valid_as_they_are(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    blocks = [b.split("\n", 1)[1] for b in readme.split("```yaml\n")[1:]]
    blocks = [b.split("```", 1)[0] for b in blocks]
    (profile,) = [b for b in blocks if "profile_id: my_retail" in b]
    (accounts,) = [b for b in blocks if "my-topstep-1" in b]
    _write(tmp_path / "my_retail.yaml", profile)
    profiles = load_profiles(tmp_path)
    assert profiles["my_retail"].limits.daily_loss is not None
    loaded = load_accounts(_write(tmp_path / "accounts.yaml", accounts), profiles)
    assert loaded["my-topstep-1"].profile.profile_id == "topstep_50k"
