"""Console sign-in: keys, signed sessions, CSRF tokens, production settings."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from at_obs.console_settings import ConsoleSettings
from at_obs.domain.console.auth import (
    LoginThrottle,
    Role,
    csrf_ok,
    csrf_token,
    issue_session,
    read_session,
    role_for_key,
)

KEYS = {Role.OPERATOR: "op-key-0123456789", Role.TRADER: "tr-key-0123456789", Role.VIEWER: "vw-key-0123456789"}
SECRET = "s" * 40


def test_each_key_signs_in_as_its_role_and_any_other_key_as_nobody() -> None:
    assert role_for_key("op-key-0123456789", KEYS) is Role.OPERATOR
    assert role_for_key("vw-key-0123456789", KEYS) is Role.VIEWER
    assert role_for_key("op-key-012345678", KEYS) is None
    assert role_for_key("", KEYS) is None


def test_a_session_reads_back_until_it_expires() -> None:
    s = issue_session(SECRET, Role.TRADER, now_s=1000, ttl_s=60, nonce="n")
    assert read_session(SECRET, s.token, now_s=1059) == s
    assert read_session(SECRET, s.token, now_s=1060) is None


def test_a_session_with_its_role_changed_or_signed_by_another_secret_is_refused() -> None:
    s = issue_session(SECRET, Role.VIEWER, now_s=1000, ttl_s=60, nonce="n")
    forged = s.token.replace("viewer.", "operator.", 1)
    assert read_session(SECRET, forged, now_s=1001) is None
    assert read_session("t" * 40, s.token, now_s=1001) is None
    assert read_session(SECRET, "garbage", now_s=1001) is None


def test_a_csrf_token_is_good_only_for_the_session_that_rendered_it() -> None:
    a = issue_session(SECRET, Role.OPERATOR, now_s=1000, ttl_s=60, nonce="a")
    b = issue_session(SECRET, Role.OPERATOR, now_s=1000, ttl_s=60, nonce="b")
    assert csrf_ok(SECRET, a, csrf_token(SECRET, a))
    assert not csrf_ok(SECRET, a, csrf_token(SECRET, b))
    assert not csrf_ok(SECRET, a, "")


def test_production_refuses_the_dev_keys_and_secret() -> None:
    with pytest.raises(ValidationError, match="CONSOLE_OPERATOR_KEY"):
        ConsoleSettings(environment="production")


def test_production_refuses_one_key_for_two_roles() -> None:
    same = "k" * 20
    with pytest.raises(ValidationError, match="different console key per role"):
        ConsoleSettings(
            environment="production",
            console_operator_key=same,
            console_trader_key=same,
            console_viewer_key="v" * 20,
            console_session_secret="x" * 40,
        )


def test_production_starts_with_its_own_keys_and_secret() -> None:
    s = ConsoleSettings(
        environment="production",
        console_operator_key="o" * 20,
        console_trader_key="t" * 20,
        console_viewer_key="v" * 20,
        console_session_secret="x" * 40,
    )
    assert s.role_keys()["operator"] == "o" * 20


def test_a_notify_route_with_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown notification kinds"):
        ConsoleSettings(notify_routes=[{"urls": ["json://127.0.0.1:1/x"], "kinds": ["fil"]}])


def test_five_wrong_keys_from_one_address_make_it_wait_a_minute_and_others_not() -> None:
    throttle = LoginThrottle(max_failures=5, window_s=60)
    for i in range(5):
        assert throttle.allowed("10.0.0.1", now_s=i)
        throttle.failed("10.0.0.1", now_s=i)
    assert not throttle.allowed("10.0.0.1", now_s=10)
    assert throttle.allowed("10.0.0.2", now_s=10)
    assert throttle.allowed("10.0.0.1", now_s=65)
