"""Pure bounds: JSON shape on the bytes, field lengths, quantities, forwarded addresses, redaction."""

from __future__ import annotations

from decimal import Decimal

import pytest

from at_gateway.domain.bounds import QuantityLimits, length_errors
from at_gateway.domain.json_shape import JsonShapeError, check_json_shape
from at_gateway.domain.limits import client_address
from at_gateway.domain.redaction import WITHHELD, Redactor

SECRET = "dev-webhook-secret"
ESCAPED = SECRET.replace("s", "\\u0073")
PERCENT = SECRET.replace("s", "%73")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"[" * 33 + b"]" * 33, "too_deep"),
        (b'{"q": 1e999999999}', "number_out_of_range"),
        (b'{"q": 1e-31}', "number_out_of_range"),
        (b'{"q": ' + b"1" * 41 + b"}", "number_out_of_range"),
    ],
)
def test_json_out_of_shape_is_refused_on_the_bytes(raw: bytes, kind: str) -> None:
    with pytest.raises(JsonShapeError) as refused:
        check_json_shape(raw)
    assert refused.value.kind == kind


def test_brackets_and_numbers_inside_strings_do_not_count() -> None:
    check_json_shape(b'{"a": "' + b"[" * 1000 + b' 1e999999999 \\" [[["}')
    check_json_shape(b'{"a": [[1, 2.5e3, -0.001]], "b": "unterminated')


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b'{"a": 1e999, "b": ' + b"[" * 40 + b"]" * 40 + b"}", "number_out_of_range"),
        (b'{"b": ' + b"[" * 40 + b"]" * 40 + b', "a": 1e999}', "too_deep"),
        (b'{"s": "x", "n": 12"tail" 1e-31}', "number_out_of_range"),  # a number right after a string
    ],
)
def test_the_first_fault_in_the_bytes_is_the_one_refused(raw: bytes, kind: str) -> None:
    with pytest.raises(JsonShapeError) as refused:
        check_json_shape(raw)
    assert refused.value.kind == kind


def test_as_many_brackets_as_the_depth_bound_are_accepted_however_they_nest() -> None:
    check_json_shape(b"[" * 32 + b"]" * 32)
    check_json_shape(b"[[]]" * 40, max_depth=2)  # many brackets, never deeper than two


def test_field_lengths_are_refused_with_their_paths() -> None:
    errors = length_errors({"strategy_id": "s" * 129, "ticker": "ES1!", "indicators": {"x" * 65: 1}})
    assert [e["loc"] for e in errors] == [["strategy_id"], ["indicators", "x" * 64]]


def test_quantity_limits_prefer_the_instrument_then_the_asset_class_and_never_exceed_the_catalog() -> None:
    limits = QuantityLimits(Decimal(5), {"MES.CME": Decimal(20)}, {"future": Decimal(100)})
    assert limits.max_for("MES.CME", None, "future") == 20
    assert limits.max_for("ES.CME", None, "future") == 100
    assert limits.max_for("X.Y", None, "other") == 5
    assert limits.max_for("ES.CME", Decimal(3), "future") == 3
    assert limits.error(Decimal(0), Decimal(3), "ES.CME", ["quantity"]) == {
        "loc": ["quantity"],
        "msg": "must be positive",
    }


def test_forwarded_for_lines_are_read_right_to_left_through_trusted_networks() -> None:
    trusted = {"10.0.0.0/8", "192.0.2.1"}
    lines = ["52.89.214.238", "203.0.113.9, 10.4.4.4"]
    assert client_address("192.0.2.1", lines, trusted) == "203.0.113.9"
    assert client_address("192.0.2.1", ["10.1.1.1"], trusted) == "192.0.2.1"  # only proxies: the peer
    assert client_address("192.0.2.1", ["not-an-ip"], trusted) == "invalid"
    assert client_address("198.51.100.7", lines, trusted) == "198.51.100.7"  # untrusted peer: header ignored


@pytest.mark.parametrize(
    "raw",
    [
        f'{{"pa\\u0073sphrase": "{SECRET}"}}'.encode(),
        f'{{"comment": "{ESCAPED}"}}'.encode(),
        f"comment={PERCENT}".encode(),
        f"passphrase = {SECRET}\nticker=ES1!".encode(),
        f"ticker=ES1!;token={SECRET}".encode(),
    ],
)
def test_no_form_of_a_secret_survives_redaction(raw: bytes) -> None:
    kept = Redactor([SECRET]).body(raw)
    assert SECRET not in kept.encode().decode("unicode_escape") and "%73ecret" not in kept


def test_a_secret_only_escaped_withholds_the_text_and_a_plain_one_is_masked() -> None:
    redactor = Redactor([SECRET])
    assert redactor.text(f"path /x/{SECRET}/y") == "path /x/***/y"
    assert redactor.text("/x/dev-webhook-%73ecret") == WITHHELD


def test_a_secret_echoed_upper_cased_by_an_error_message_is_masked() -> None:
    # "cannot normalise ticker 'x': ... in 'X'": a message may echo the input in another case
    assert Redactor([SECRET]).text(f"in {SECRET.upper()!r} or {SECRET.title()}") == "in '***' or ***"
    assert Redactor([SECRET]).text(f"é {SECRET.upper()} ß") == "é *** ß"  # non-ASCII text: the folded pattern


def test_a_mebibyte_of_newlines_redacts_in_well_under_a_second() -> None:
    import time

    started = time.perf_counter()
    Redactor([SECRET]).body(b"\n" * (1024 * 1024))
    assert time.perf_counter() - started < 1.0  # generous: linear, ~0.05 s; the old regex took hours


@pytest.mark.parametrize(
    "values",
    [
        ["event_published", "2026-12-03T10:00:00.000000Z", f"x {SECRET.upper()} y"],
        ["signal", ESCAPED],
        ["signal", PERCENT],
        [f"{SECRET[:5]}\n{SECRET[5:]}"],  # split by the join's own separator: text() still judges it
    ],
)
def test_a_log_line_holding_a_secret_in_any_form_is_never_waved_through(values: list[str]) -> None:
    redactor = Redactor([SECRET])
    holds_none = redactor.holds_none(values)
    assert not holds_none or all(redactor.text(v) == v for v in values)
    if any(SECRET in v.lower() or v in (ESCAPED, PERCENT) for v in values):
        assert not holds_none


def test_a_log_line_without_secrets_is_cleared_in_one_pass() -> None:
    redactor = Redactor([SECRET])
    assert redactor.holds_none(["event_published", "01JF2Y7Q4W8N3M5K6P9R0S1T2V", "signals.paper-1.tradingview"])
    assert Redactor([]).holds_none([SECRET])


def test_every_live_redactor_masks_log_values_and_a_collected_one_is_forgotten() -> None:
    import gc

    from at_gateway.adapters import log_redaction

    gone, kept = Redactor(["first-gateway-secret"]), Redactor(["second-gateway-secret"])
    log_redaction.install(gone)
    log_redaction.install(kept)
    line = {"event": "x", "a": "first-gateway-secret", "b": "second-gateway-secret", "n": 3}
    assert log_redaction.redact_values(None, "info", dict(line)) == line | {"a": "***", "b": "***"}
    nested = log_redaction.redact_values(None, "info", {"errors": [{"msg": "second-gateway-secret"}]})
    assert nested == {"errors": [{"msg": "***"}]}
    del gone
    gc.collect()
    assert kept in log_redaction._live() and len(log_redaction._live()) == len(log_redaction._REFS)
    assert log_redaction.redact_values(None, "info", dict(line)) == line | {"b": "***"}
