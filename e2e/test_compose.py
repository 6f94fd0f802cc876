"""docker compose describes the same stack: valid file, real services, ports and settings."""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from e2e.conftest import ROOT, require_tool
from tools.stack import (
    COMPOSE_NATS_CONF,
    COMPOSE_NATS_USERS,
    compose_nats_conf,
    compose_password_var,
    compose_passwords,
)

COMPOSE = ROOT / "docker-compose.yml"


def _compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_file_is_valid_for_docker_compose() -> None:
    tool = require_tool("docker-compose")
    secrets = {
        "GRAFANA_ADMIN_PASSWORD": "g" * 16,
        "AT_GATEWAY_WEBHOOK_SECRETS": "w" * 24,
        "AT_GATEWAY_API_KEYS": "k" * 24,
    }
    env = os.environ | _generated_env() | secrets
    result = subprocess.run(
        [tool, "-f", str(COMPOSE), "config", "-q"], capture_output=True, text=True, cwd=ROOT, check=False, env=env
    )
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_generated_nats_passwords(tmp_path: Path) -> None:
    tool = require_tool("docker-compose")
    empty = tmp_path / ".env"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NATS_", "AT_", "GRAFANA_"))}
    result = subprocess.run(
        [tool, "--env-file", str(empty), "-f", str(COMPOSE), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        env=env,
    )
    assert result.returncode != 0 and "compose-passwords" in result.stderr, result.stderr


def test_every_built_service_has_its_dockerfile_and_package() -> None:
    for name, service in _compose()["services"].items():
        build = service.get("build")
        if build is None:
            continue
        dockerfile = ROOT / build["context"] / build["dockerfile"]
        assert dockerfile.is_file(), f"{name}: {dockerfile} missing"
        assert (dockerfile.parent / "pyproject.toml").is_file(), name


def test_service_ports_match_their_port_settings() -> None:
    for name, service in _compose()["services"].items():
        env = service.get("environment", {})
        port_vars = [v for k, v in env.items() if k.endswith("_PORT") and k.startswith("AT_")]
        if port_vars:
            published = [p.split(":")[1] for p in service["ports"]]
            assert port_vars[0] in published, name


def test_compose_nats_config_is_generated_from_the_permissions_in_at_core() -> None:
    assert COMPOSE_NATS_CONF.read_text() == compose_nats_conf(), "run: python tools/stack.py compose-nats-conf"


def _generated_env() -> dict[str, str]:
    """What `python tools/stack.py compose-passwords >> .env` gives, as compose reads .env."""
    env = {}
    for line in compose_passwords().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = value[1:-1] if value.startswith("'") else value  # compose: single quotes are literal
    return env


def test_compose_file_needs_generated_secrets_and_has_no_default_password() -> None:
    text = COMPOSE.read_text()
    assert "change-me" not in text  # a known default password would open a published port
    for service in _compose()["services"].values():
        for name, value in (service.get("environment") or {}).items():
            if "PASSWORD" in name:
                assert ":?" in str(value), f"{name} must be required, not defaulted: {value}"


def test_the_published_gateway_runs_in_production_so_dev_secrets_are_refused() -> None:
    env = _compose()["services"]["gateway"]["environment"]
    assert env["AT_GATEWAY_ENVIRONMENT"] == "production"
    assert all(":?" in env[name] for name in ("AT_GATEWAY_WEBHOOK_SECRETS", "AT_GATEWAY_API_KEYS"))
    settings = {k: v for k, v in env.items() if "${" not in str(v)}
    real = {"AT_GATEWAY_WEBHOOK_SECRETS": "w" * 24, "AT_GATEWAY_API_KEYS": "k" * 24}
    assert _gateway_settings(settings | real).environment == "production"
    with pytest.raises(ValueError, match="real secrets"):
        _gateway_settings(settings | real | {"AT_GATEWAY_WEBHOOK_SECRETS": "dev-webhook-secret"})


def _gateway_settings(env: dict[str, str]):
    from at_gateway.config import GatewaySettings

    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, str(value))
        return GatewaySettings(_env_file=None)


def test_the_committed_nats_config_holds_no_password_or_hash() -> None:
    text = COMPOSE_NATS_CONF.read_text()
    assert "$2" not in text and 'password: "' not in text
    assert text.count("_PASSWORD_BCRYPT") == len(COMPOSE_NATS_USERS)


def test_only_the_gateway_and_grafana_are_published_beyond_loopback() -> None:
    public = {
        name
        for name, service in _compose()["services"].items()
        for port in service.get("ports", [])
        if not str(port).startswith("127.0.0.1:")
    }
    assert public == {"gateway", "grafana"}


async def test_nats_server_with_the_compose_config_takes_the_generated_passwords_and_keeps_only_hashes(
    tmp_path: Path,
) -> None:
    import nats

    from at_core.testing import find_nats_server, free_port

    generated = _generated_env()
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(
        compose_nats_conf()
        .replace('store_dir: "/data"', f'store_dir: "{tmp_path}"')
        .replace('"0.0.0.0:4222"', f'"127.0.0.1:{port}"')
        .replace('http: "0.0.0.0:8222"\n', "")
    )
    # nats-server gets only the hashes, as compose gives them to its container
    env = {k: v for k, v in os.environ.items() if not k.startswith("NATS_")}
    env |= {k: v for k, v in generated.items() if k.endswith("_BCRYPT")}
    assert all(v.startswith('"$2') for k, v in env.items() if k.endswith("_BCRYPT"))
    server = await asyncio.create_subprocess_exec(
        find_nats_server(), "-c", str(conf), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        url = f"nats://127.0.0.1:{port}"
        outcomes = {}
        for user in COMPOSE_NATS_USERS:
            password = generated[compose_password_var(user)]
            nc = await _connect(nats, url, user, password)
            outcomes[user] = nc is not None
            if nc is not None:
                await nc.close()
            outcomes[f"{user} with a wrong password"] = await _connect(nats, url, user, password + "x") is not None
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), 10)
    assert outcomes == {
        **dict.fromkeys(COMPOSE_NATS_USERS, True),
        **{f"{user} with a wrong password": False for user in COMPOSE_NATS_USERS},
    }


async def _connect(nats_mod, url: str, user: str, password: str, timeout: float = 10.0):
    """A connection, or None if the server refused the credentials (retried while it starts)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            return await nats_mod.connect(url, user=user, password=password, allow_reconnect=False, connect_timeout=2)
        except (nats_mod.errors.Error, OSError) as exc:
            if "authorization" in str(exc).lower():
                return None
            if asyncio.get_running_loop().time() > deadline:  # not listening yet, or slow to answer
                raise
            await asyncio.sleep(0.05)


# --- each container loads the config meant for compose (issue 13, item 11) -------------------
CONFIG_FLAGS = ("--config.file=", "-c")


def _loaded_config(service: dict) -> str | None:
    """The container path of the config file a service's command loads, if it names one."""
    command = service.get("command") or []
    for i, arg in enumerate(command):
        if arg.startswith("--config.file="):
            return arg.split("=", 1)[1]
        if arg == "-c" and i + 1 < len(command):
            return str(command[i + 1])
    return None


def _host_path(service: dict, container_path: str) -> Path | None:
    """Map a container path to the repository file a bind mount puts there."""
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        target = rest.split(":")[0]
        if not source.startswith("./"):
            continue
        if container_path == target:
            return ROOT / source
        if container_path.startswith(target.rstrip("/") + "/"):
            return ROOT / source / container_path[len(target.rstrip("/")) + 1 :]
    return None


def _compose_services() -> set[str]:
    return set(_compose()["services"])


def test_every_mounted_config_is_the_one_meant_for_compose() -> None:
    """A config with a ``-compose`` sibling is for loopback (`make up`): compose must load the sibling,
    and every host a Prometheus config scrapes or alerts must be a compose service, never loopback."""
    checked = []
    for name, service in _compose()["services"].items():
        container_path = _loaded_config(service)
        if container_path is None:
            continue
        host = _host_path(service, container_path)
        assert host is not None and host.is_file(), f"{name}: {container_path} is not a file mounted from the repo"
        sibling = host.with_name(f"{host.stem}-compose{host.suffix}")
        assert "compose" in host.name or not sibling.exists(), (
            f"{name} loads {host.relative_to(ROOT)}, the loopback config; compose's is {sibling.relative_to(ROOT)}"
        )
        checked.append(name)
        if name == "prometheus":
            config = yaml.safe_load(host.read_text())
            targets = [
                t
                for section in [*config.get("scrape_configs", []), *config.get("alerting", {}).get("alertmanagers", [])]
                for static in section.get("static_configs", [])
                for t in static["targets"]
            ]
            hosts = {t.rsplit(":", 1)[0] for t in targets}
            assert targets and hosts <= _compose_services(), f"prometheus scrapes {sorted(hosts - _compose_services())}"
    assert {"nats", "prometheus", "alertmanager"} <= set(checked), checked


def test_grafana_reads_prometheus_by_its_compose_name() -> None:
    services = _compose()["services"]
    mounts = [v for v in services["grafana"]["volumes"] if str(v).endswith("/etc/grafana/provisioning:ro")]
    assert mounts, "grafana's provisioning is not mounted"
    source = ROOT / str(mounts[0]).split(":")[0]
    for datasource in yaml.safe_load((source / "datasources" / "prometheus.yml").read_text())["datasources"]:
        host = datasource["url"].split("//", 1)[1].split(":")[0]
        assert host in services, f"grafana's datasource points at {host}, not a compose service"
