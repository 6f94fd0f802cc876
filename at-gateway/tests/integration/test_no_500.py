"""Property: whatever reaches a running gateway, on any route, with any method, body, content type,
credentials, query or forwarded address, it is answered without a 500, errors in the documented JSON
shape, and every refusal is on the dead-letter stream by the time it is answered.

Bodies are mostly near-valid (a valid body of the route's kind with one field replaced or removed),
so requests get past parsing and authentication into the deeper checks; the rest are arbitrary bytes
and arbitrary JSON objects.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from hypothesis import event, given, settings
from hypothesis import strategies as st
from starlette.routing import Mount

from at_core import subjects
from at_core.testing import NatsServer, free_port
from at_gateway.config import DEV_API_KEY, DEV_WEBHOOK_SECRET, GatewaySettings
from at_gateway.main import create_app

pytestmark = pytest.mark.integration

ALLOWED_IP = "52.89.214.238"  # one of the default allowlist (TradingView's addresses)
MAX_BODY, MAX_IMAGE = 1024, 512  # small caps, so some fuzzed bodies are over them (413)
DEAD_LETTER_STREAM = next(s.name for s in subjects.STREAMS if subjects.DEAD_LETTERS in s.subjects)

ALERT = {"ticker": "MES1!", "exchange": "CME_MINI", "action": "buy", "quantity": "1", "close": "6012.25"}
STRATEGY_ALERT = {
    "ticker": "ES1!",
    "strategy": {
        "order": {"action": "sell", "contracts": "2", "price": "6000"},
        "position_size": "-2",
        "market_position": "short",
        "prev_market_position": "flat",
    },
}
PINESCRIPT = ALERT | {
    "interval": "5",
    "bar": {"open": "6010", "high": "6013", "low": "6008.5", "close": "6012.25", "volume": "18234"},
    "indicators": {"rsi": "61.2", "atr": "6.25"},
}
MARKET_DATA = {
    "items": [
        {"kind": "quote", "symbol": "MES1!", "bid": "6012", "ask": "6012.25"},
        {"kind": "bar", "symbol": "ES1!", "open": "1", "high": "2", "low": "0.5", "close": "1.5"},
        {"kind": "trade", "symbol": "BINANCE:BTCUSDT", "price": "60000", "size": "0.1", "aggressor": "buy"},
    ]
}
ORDER = {
    "account_id": "paper-1",
    "symbol": "MES1!",
    "side": "buy",
    "quantity": "1",
    "order_type": "limit",
    "limit_price": "6000",
}
PNG, JPEG = b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff"

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
TEXT = st.text(max_size=40)
#: What senders really put in fields: placeholders left unfilled, old or odd times, odd numbers.
FIELD_VALUES = JSON_VALUES | st.sampled_from(
    ["{{close}}", "{{strategy.order.action}}", "2020-01-01T00:00:00Z", "1700000000000", "NaN", "-1", "0", "1e400"]
)
FIELD_NAMES = st.sampled_from(["time", "timenow", "alert_id", "order_type", "limit_price", "stop_price", "side"]) | TEXT
PRINTABLE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
HEADER_VALUES = PRINTABLE.map(str.strip)  # HTTP cannot carry surrounding whitespace in a header value
REMOVE = object()
NO_BODY = st.just(b"")


def _leaf_paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every key and index path inside a JSON value (the places one mutation can hit)."""
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    paths = []
    for key, child in items:
        paths.append((*prefix, key))
        paths.extend(_leaf_paths(child, (*prefix, key)))
    return paths


def _mutate(base: dict, path: tuple, new: object) -> dict:
    body = copy.deepcopy(base)
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    if new is REMOVE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return body


def near_valid(base: dict) -> st.SearchStrategy[bytes]:
    """``base`` as is, with one field replaced or removed, or with one unexpected field added."""
    paths = _leaf_paths(base)
    one_changed = st.builds(_mutate, st.just(base), st.sampled_from(paths), FIELD_VALUES | st.just(REMOVE))
    one_added = st.builds(lambda k, v: base | {k: v}, FIELD_NAMES, FIELD_VALUES)
    return (st.just(base) | one_changed | one_added).map(lambda d: json.dumps(d).encode())  # NaN, Infinity too


def mostly(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """``good`` four times in five, so most requests get past the envelope (method, type, credentials,
    source) into the deeper checks; shrinking leans to ``good``."""
    return st.sampled_from([True, True, True, True, False]).flatmap(lambda ok: good if ok else bad)


ANY_BODY = (
    st.binary(max_size=MAX_BODY)
    | st.binary(min_size=MAX_BODY + 1, max_size=MAX_BODY + 64)
    | st.dictionaries(TEXT, JSON_VALUES, max_size=6).map(lambda d: json.dumps(d).encode())
)
KEY_VALUE = st.lists(st.tuples(st.sampled_from(["ticker", "action", "qty", "passphrase", ""]), PRINTABLE)).map(
    lambda pairs: "\n".join(f"{k}={v}" for k, v in pairs).encode()
)
PASSPHRASE = mostly(st.just({"passphrase": DEV_WEBHOOK_SECRET}), st.sampled_from([{}, {"passphrase": "wrong"}]))


# A fresh id per draw (hypothesis repeats generated values, and a repeat is only ever a 200 duplicate).
ALERT_IDS = mostly(st.builds(lambda: {"alert_id": uuid.uuid4().hex}), st.just({"alert_id": "repeated"}))


def alerts(*bases: dict, passphrase: bool = False) -> st.SearchStrategy[bytes]:
    extra = st.builds(lambda p, i: p | i, PASSPHRASE if passphrase else st.just({}), ALERT_IDS)
    near = st.sampled_from(bases).flatmap(lambda base: extra.flatmap(lambda e: near_valid(base | e)))
    return mostly(near, KEY_VALUE | ANY_BODY)


def tokens(prefix: str) -> st.SearchStrategy[str]:
    wrong = st.just("wrong-secret") | st.text(min_size=1, max_size=30)
    return mostly(st.just(DEV_WEBHOOK_SECRET), wrong).map(lambda t: prefix + quote(t, safe=""))


def _screenshot_path(symbol: str | None, interval: str | None) -> str:
    query = "&".join(f"{k}={quote(v, safe='')}" for k, v in (("symbol", symbol), ("interval", interval)) if v)
    return "/ingest/screenshot" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Route:
    """How the fuzzer calls one route: its method, concrete paths, bodies and fitting content types."""

    method: str
    paths: st.SearchStrategy[str]
    bodies: st.SearchStrategy[bytes] = NO_BODY
    types: tuple[str, ...] = ("",)


ALERT_TYPES = ("application/json", "text/plain", "")
IMAGE_TYPES = ("image/png", "image/jpeg", "application/octet-stream")
OTHER_TYPES = (*ALERT_TYPES, *IMAGE_TYPES, "application/json; charset=utf-8", "application/xml", "multipart/form-data")
IMAGES = st.builds(
    lambda magic, rest: magic + rest,
    st.sampled_from([PNG, JPEG, b""]),
    st.binary(max_size=MAX_IMAGE - len(PNG)) | st.binary(min_size=MAX_IMAGE, max_size=MAX_IMAGE + 64),
)
SYMBOLS = mostly(st.just("MES1!"), st.none() | st.just("OANDA:EURUSD") | TEXT)
UNKNOWN_PATHS = st.sampled_from(["/", "/webhooks", "/orders/1"]) | TEXT.map(lambda t: "/" + quote(t, safe=""))

#: Every route the app serves (checked below), and paths it does not.
ROUTES: dict[str, Route] = {
    "/webhooks/tradingview": Route(
        "POST", st.just("/webhooks/tradingview"), alerts(ALERT, STRATEGY_ALERT, passphrase=True), ALERT_TYPES
    ),
    "/webhooks/tradingview/{token}": Route(
        "POST", tokens("/webhooks/tradingview/"), alerts(ALERT, STRATEGY_ALERT), ALERT_TYPES
    ),
    "/webhooks/pinescript": Route(
        "POST", st.just("/webhooks/pinescript"), alerts(PINESCRIPT, ALERT, passphrase=True), ALERT_TYPES
    ),
    "/webhooks/pinescript/{token}": Route("POST", tokens("/webhooks/pinescript/"), alerts(PINESCRIPT), ALERT_TYPES),
    "/ingest/market-data": Route(
        "POST", st.just("/ingest/market-data"), mostly(near_valid(MARKET_DATA), ANY_BODY), ("application/json",)
    ),
    "/ingest/screenshot": Route("POST", st.builds(_screenshot_path, SYMBOLS, SYMBOLS), IMAGES | ANY_BODY, IMAGE_TYPES),
    "/orders": Route("POST", st.just("/orders"), mostly(near_valid(ORDER), ANY_BODY), ("application/json",)),
    **{
        path: Route("GET", st.just(path))
        for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc")
    },
    "(unknown)": Route("POST", UNKNOWN_PATHS, ANY_BODY, ALERT_TYPES),
}


@dataclass(frozen=True)
class Request:
    route: str
    method: str
    path: str
    body: bytes
    headers: dict[str, str]
    chunked: bool  # streamed without a Content-Length, so only the read loop can enforce the cap


@st.composite
def requests(draw: st.DrawFn, template: str) -> Request:
    route = ROUTES[template]
    method = draw(mostly(st.just(route.method), st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"])))
    wanted = {
        "content-type": draw(mostly(st.sampled_from(route.types), st.sampled_from(OTHER_TYPES))),
        "x-api-key": draw(mostly(st.just(DEV_API_KEY), st.sampled_from([None, "wrong"]) | HEADER_VALUES)),
        "x-forwarded-for": draw(
            mostly(
                st.sampled_from([ALLOWED_IP, f"{ALLOWED_IP}, 127.0.0.1"]),
                st.sampled_from([None, "10.0.0.1"]) | HEADER_VALUES,
            )
        ),
    }
    headers = {name: value for name, value in wanted.items() if value}
    body = draw(route.bodies) if method != "GET" else b""
    return Request(template, method, draw(route.paths), body, headers, chunked=bool(body) and draw(st.booleans()))


@dataclass
class LiveGateway:
    client: httpx.Client
    monitor: httpx.Client

    def dead_letters(self) -> int:
        """Messages in the dead-letter stream, as the nats-server itself reports them."""
        jsz = self.monitor.get("/jsz", params={"streams": "true"}).json()
        streams = [s for account in jsz["account_details"] for s in account.get("stream_detail") or []]
        (dead,) = [s for s in streams if s["name"] == DEAD_LETTER_STREAM]
        return dead["state"]["messages"]


@pytest.fixture(scope="module")
def live_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    """A gateway on its own thread and loop (hypothesis drives it synchronously), in front of a nats-server
    with monitoring, configured as in production: allowlist on behind a trusted proxy, keyed market data."""
    with NatsServer(monitor=True) as nats_server:
        port = free_port()
        settings_ = GatewaySettings(
            nats_url=nats_server.url,
            port=port,
            outbox_path=str(tmp_path_factory.mktemp("outbox") / "outbox.sqlite3"),
            rate_limit_per_minute=100_000,
            route_rate_limit_per_minute=100_000,
            allowlist_enabled=True,
            trusted_proxies="127.0.0.1",
            market_data_api_key_required=True,
            max_body_bytes=MAX_BODY,
            max_image_bytes=MAX_IMAGE,
            publish_timeout_s=10.0,  # a slow JetStream ack is waited for, so dead letters are stored before the answer
            answer_within_s=2.5,  # the longest answer budget allowed, for the same reason
            refusals_per_source_per_minute=1_000_000,  # every refusal is kept: the budgets are tested elsewhere
            dead_letters_per_minute=1_000_000,
        )
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings_), host="127.0.0.1", port=port, log_level="warning", proxy_headers=False)
        )
        thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
        thread.start()
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        monitor = httpx.Client(base_url=f"http://127.0.0.1:{nats_server.monitor_port}", timeout=30)
        try:
            deadline = time.monotonic() + 30
            while not _ready(client):
                if time.monotonic() > deadline or not thread.is_alive():
                    raise RuntimeError("gateway did not become ready")
                time.sleep(0.05)  # polling the gateway's readiness, not waiting for a message
            yield LiveGateway(client, monitor)
        finally:
            client.close()
            monitor.close()
            server.should_exit = True
            thread.join(timeout=30)


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.TransportError:
        return False


def test_the_fuzzer_sends_to_every_route_the_app_serves_with_its_method() -> None:
    app = create_app(GatewaySettings())
    api = {path: {m.upper() for m in operations} for path, operations in app.openapi()["paths"].items()}
    # /docs, /openapi.json...: served by the app but not in its schema (HEAD comes with every GET)
    docs = {r.path: set(r.methods) - {"HEAD"} for r in app.routes if hasattr(r, "methods")}
    fuzzed = {template: {route.method} for template, route in ROUTES.items() if template != "(unknown)"}
    assert fuzzed == api | docs
    # the one mount: Swagger UI's and ReDoc's static files (test_openapi_bodies.py tries to escape it)
    assert [r.path for r in app.routes if isinstance(r, Mount)] == ["/docs-assets"]


@pytest.mark.parametrize("template", sorted(ROUTES))
@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_no_request_on_any_route_gets_a_500_and_every_refusal_is_dead_lettered(
    live_gateway: LiveGateway, template: str, data: st.DataObject
) -> None:
    request = data.draw(requests(template), label="request")
    before = live_gateway.dead_letters()
    content = iter([request.body]) if request.chunked else request.body
    resp = live_gateway.client.request(request.method, request.path, content=content, headers=request.headers)
    assert resp.status_code < 500, (resp.status_code, resp.text)
    if resp.status_code >= 400:
        body = resp.json()
        event(f"{request.method} {request.route}: {resp.status_code} {body.get('reason')}")
        assert resp.headers["content-type"] == "application/problem+json", resp.headers  # RFC 9457
        assert body["status"] == resp.status_code and body["reason"] and isinstance(body["detail"], str), body
        assert body["type"] == "urn:at:problem:" + body["reason"], body
        assert all(set(error) == {"loc", "msg"} for error in body.get("errors", [])), body
        assert live_gateway.dead_letters() == before + 1, body
    else:
        event(f"{request.method} {request.route}: {resp.status_code}")
        assert live_gateway.dead_letters() == before
