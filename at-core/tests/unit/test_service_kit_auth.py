"""API keys: scoped, several per scope for rotation, dev keys refused in production."""

from __future__ import annotations

import pytest

from at_core.runtime.settings import DEV_API_KEYS as SETTINGS_DEV_KEYS
from at_core.runtime.settings import ServiceSettings
from at_core.service_kit import DEV_API_KEYS, DEV_KEYS, ApiKeyConfigError, KeyRing, Scope, auth_policy

PROD_OPERATOR = "op-" + "a" * 30
PROD_OPERATOR_NEXT = "op-" + "b" * 30


def test_the_settings_default_is_the_kits_dev_key_ring() -> None:
    assert DEV_API_KEYS == SETTINGS_DEV_KEYS
    assert KeyRing.parse(DEV_API_KEYS).scopes() == set(Scope)
    assert {KeyRing.parse(DEV_API_KEYS).match(k).scope for k in DEV_KEYS.values()} == set(DEV_KEYS)  # type: ignore[union-attr]


def test_a_key_identifies_its_scope_and_a_fingerprint_never_the_key() -> None:
    ring = KeyRing.parse(f"operator:{PROD_OPERATOR}, trader:tv-key-123456789")
    principal = ring.match(PROD_OPERATOR)
    assert principal is not None and principal.scope is Scope.OPERATOR
    assert PROD_OPERATOR not in principal.name and principal.name.startswith("api-key:")
    assert ring.match("tv-key-123456789").scope is Scope.TRADER  # type: ignore[union-attr]


def test_an_unknown_key_or_a_prefix_of_a_key_matches_nothing() -> None:
    ring = KeyRing.parse(f"operator:{PROD_OPERATOR}")
    assert ring.match("nope") is None
    assert ring.match(PROD_OPERATOR[:-1]) is None
    assert ring.match(PROD_OPERATOR + "x") is None
    assert ring.match("") is None


def test_two_keys_of_one_scope_are_both_valid_during_a_rotation() -> None:
    ring = KeyRing.parse(f"operator:{PROD_OPERATOR},operator:{PROD_OPERATOR_NEXT}")
    assert ring.match(PROD_OPERATOR).scope is Scope.OPERATOR  # type: ignore[union-attr]
    assert ring.match(PROD_OPERATOR_NEXT).scope is Scope.OPERATOR  # type: ignore[union-attr]
    assert len(ring) == 2


def test_a_key_may_contain_colons_after_its_scope() -> None:
    assert KeyRing.parse("agent:a:b:c").match("a:b:c").scope is Scope.AGENT  # type: ignore[union-attr]


def test_an_entry_without_a_scope_is_refused_unless_the_service_names_one() -> None:
    with pytest.raises(ApiKeyConfigError, match="has no scope"):
        KeyRing.parse("just-a-key")
    with pytest.raises(ApiKeyConfigError, match="has no scope"):
        KeyRing.parse("admin:just-a-key")  # admin is not a scope
    assert KeyRing.parse("just-a-key", unscoped=Scope.TRADER).match("just-a-key").scope is Scope.TRADER  # type: ignore[union-attr]


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ApiKeyConfigError, match="empty"):
        KeyRing.parse("operator:")


def test_production_with_the_dev_keys_refuses_to_start_naming_no_key() -> None:
    settings = ServiceSettings(environment="production")
    with pytest.raises(ApiKeyConfigError, match="production refuses the dev operator key") as caught:
        auth_policy(settings)
    assert "dev-operator-key" not in str(caught.value)


def test_production_refuses_the_gateways_old_dev_key_and_short_keys() -> None:
    with pytest.raises(ApiKeyConfigError, match="dev trader key"):
        auth_policy(ServiceSettings(environment="production", api_keys="dev-api-key"), Scope.TRADER)
    with pytest.raises(ApiKeyConfigError, match="16"):
        auth_policy(ServiceSettings(environment="production", api_keys="operator:short"))


def test_production_with_real_keys_starts_and_reads_need_a_key() -> None:
    policy = auth_policy(ServiceSettings(environment="production", api_keys=f"operator:{PROD_OPERATOR}"))
    assert policy.reads_need_key
    assert not auth_policy(ServiceSettings()).reads_need_key
    assert auth_policy(ServiceSettings(reads_need_api_key=True)).reads_need_key
