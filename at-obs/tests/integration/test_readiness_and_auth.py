"""The recorder on the service kit: a deleted durable is not ready; in production the trail needs a key."""

from __future__ import annotations

from pathlib import Path

import nats
import pytest
from tests.integration.test_recorder import eventually, recorder

from at_core.service_kit import ApiKeyConfigError
from at_core.testing import NatsServer, free_port
from at_obs.config import ObsSettings
from at_obs.main import create_app

pytestmark = pytest.mark.integration

VIEW = "view-" + "v" * 24


async def test_deleting_a_recorder_durable_turns_readyz_503(nats_server: NatsServer, tmp_path: Path) -> None:
    settings = ObsSettings(nats_url=nats_server.url, port=free_port(), audit_db_path=str(tmp_path / "a.sqlite3"))
    async with recorder(settings) as client:
        durables = (await client.get("/readyz")).json()["durables"]
        assert durables and {d["state"] for d in durables} == {"ok"}
        victim = durables[0]
        nc = await nats.connect(nats_server.url)
        try:
            await nc.jetstream().delete_consumer(victim["stream"], victim["durable"])
        finally:
            await nc.close()

        async def unready() -> bool:
            return (await client.get("/readyz")).status_code == 503

        await eventually(unready)
        body = (await client.get("/readyz")).json()
        assert next(d for d in body["durables"] if d["durable"] == victim["durable"])["state"] == "missing"


async def test_in_production_the_audit_trail_needs_a_key(nats_server: NatsServer, tmp_path: Path) -> None:
    settings = ObsSettings(
        nats_url=nats_server.url,
        port=free_port(),
        audit_db_path=str(tmp_path / "a.sqlite3"),
        environment="production",
        api_keys=f"viewer:{VIEW}",
    )
    async with recorder(settings) as client:
        assert (await client.get("/audit/verify")).status_code == 401
        assert (await client.get("/audit/verify", headers={"Authorization": f"Bearer {VIEW}"})).json()["ok"] is True


def test_production_with_the_dev_keys_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(ApiKeyConfigError, match="production refuses the dev"):
        create_app(ObsSettings(environment="production", audit_db_path=str(tmp_path / "a.sqlite3")))
