"""The console in a real browser: headless Chromium (Debian's chromium + chromium-driver) via selenium.

Against a real recorder process serving pages from a real audit store, filled by the paper
stack over a real nats-server; the kill switch goes to a real exec-sim process. Screenshots of every page go to ``at-obs/var/screenshots``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import OBS, _missing
from tests.console_stack import ConsoleStack
from tests.paper_stack import ACCOUNT, session_inputs

from at_core.events import BrokerMismatchEvent, SignalEvent
from at_core.ids import derive_id
from at_core.testing import example_events
from at_obs.console_settings import DEV_KEYS

pytestmark = pytest.mark.integration
SHOTS = OBS / "var" / "screenshots"
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,1100",
)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleStack]:
    s = ConsoleStack(tmp_path_factory.mktemp("console"))
    try:
        s.start()
        s.play_session()
        s.start_exec_sim()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if chromium is None or driver_path is None:
        _missing("chromium and chromium-driver", ".ci/run installs Debian's chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(executable_path=str(driver_path)), options=options)
    driver.set_page_load_timeout(30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def sign_in(driver, stack: ConsoleStack, key: str) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.delete_all_cookies()
    driver.get(stack.url + "/console/login")
    driver.find_element(By.ID, "key").send_keys(key)
    driver.find_element(By.ID, "sign-in").click()
    # the click returns before the sign-in's answer sets the session cookie: await it, or the next
    # page is asked for without a session (and shows the sign-in page instead)
    WebDriverWait(driver, 15).until(lambda d: d.get_cookies() and not d.current_url.endswith("/console/login"))


def shot(driver, name: str) -> Path:  # type: ignore[no-untyped-def]
    path = SHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def first_signal_correlation() -> str:
    return next(e for e in session_inputs() if isinstance(e, SignalEvent)).correlation_id


def test_a_page_without_a_session_sends_the_browser_to_sign_in(browser, stack: ConsoleStack) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    browser.delete_all_cookies()
    browser.get(stack.url + "/console/accounts")
    assert browser.current_url.endswith("/console/login")
    browser.find_element(By.ID, "key").send_keys("not-a-key")
    browser.find_element(By.ID, "sign-in").click()
    assert "not valid" in _await_element(browser, "login-error").text
    shot(browser, "login")


def test_the_story_page_shows_every_step_of_a_filled_alert(browser, stack: ConsoleStack) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    sign_in(browser, stack, DEV_KEYS["viewer"])
    browser.get(stack.url + f"/console/story?correlation_id={first_signal_correlation()}")
    steps = [li.get_attribute("data-type") for li in browser.find_elements(By.CSS_SELECTOR, "#timeline li")]
    assert steps == [
        "signal", "agent_analysis", "trade_proposal", "risk_decision", "order_submitted", "order_accepted",
        "fill", "order_filled", "position", "account_state",
    ]  # fmt: skip
    assert "every hash matches" in browser.find_element(By.ID, "chain").text
    assert "every rule passed" in browser.find_element(By.CSS_SELECTOR, ".step-risk_decision").text
    assert "after the signal" in browser.find_element(By.CSS_SELECTOR, ".step-fill").text
    shot(browser, "story")


def test_the_accounts_page_shows_the_account_halted_after_the_daily_loss_breach(browser, stack: ConsoleStack) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    sign_in(browser, stack, DEV_KEYS["trader"])
    browser.get(stack.url + "/console/accounts")
    card = browser.find_element(By.ID, f"account-{ACCOUNT}")
    assert card.get_attribute("data-state") == "halted"
    assert "daily_loss_limit" in card.find_element(By.CSS_SELECTOR, ".halt-reason").text
    assert "daily_loss" in card.find_element(By.CSS_SELECTOR, ".headroom").text
    shot(browser, "accounts")


def test_the_accounts_page_shows_a_brokers_mismatch_until_the_broker_agrees_again(browser, stack: ConsoleStack) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    example = example_events()["broker_mismatch"]
    assert isinstance(example, BrokerMismatchEvent)
    mismatch = example.model_copy(update={"account_id": ACCOUNT})
    restored = mismatch.model_copy(
        update={"event_id": derive_id(mismatch.event_id, "restored"), "status": "restored", "differences": []}
    )
    box = f"broker-mismatch-{ACCOUNT}-{mismatch.venue}"

    def shown() -> list:  # type: ignore[type-arg]
        browser.get(stack.url + "/console/accounts")  # a page of its time: load it again
        return browser.find_elements(By.ID, box)

    sign_in(browser, stack, DEV_KEYS["viewer"])
    stack.publish([mismatch])
    found = WebDriverWait(browser, 15, poll_frequency=0.1).until(lambda _: shown())
    text = found[0].text
    assert f"Broker mismatch at {mismatch.venue}" in text and "halted for it" in text
    assert "position MESZ2026.CME 2 1" in " ".join(text.split()), "kind, item, ours, theirs"
    shot(browser, "accounts_broker_mismatch")
    stack.publish([restored])
    WebDriverWait(browser, 15, poll_frequency=0.1).until(lambda _: not shown())


def _await_element(browser, element_id: str, timeout_s: float = 15.0):  # type: ignore[no-untyped-def]
    """The element of the page a form's POST led to (the click returns before that page loads)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout_s).until(lambda d: d.find_element(By.ID, element_id))


def test_the_kill_switch_is_refused_without_the_operator_key(browser, stack: ConsoleStack) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    halts = stack.kill_switches()
    sign_in(browser, stack, DEV_KEYS["viewer"])
    browser.get(stack.url + "/console/accounts")
    browser.find_element(By.ID, f"kill-{ACCOUNT}").click()
    browser.find_element(By.ID, "confirm").click()
    assert "operator needed" in _await_element(browser, "forbidden").text
    assert stack.kill_switches() == halts, "exec-sim was never called"


def test_the_kill_switch_button_halts_the_account_with_the_operator_key(browser, stack: ConsoleStack) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    sign_in(browser, stack, DEV_KEYS["operator"])
    browser.get(stack.url + "/console/accounts")
    browser.find_element(By.ID, f"kill-{ACCOUNT}").click()
    assert "halts new orders" in browser.page_source
    shot(browser, "confirm_kill_switch")
    browser.find_element(By.ID, "confirm").click()
    assert "kill_switch " + ACCOUNT + ": done" in _await_element(browser, "notice").text
    # exec-sim answered only after JetStream took its halt: it is on the bus
    stack.wait_for(lambda: stack.kill_switches() == 1, 10, "exec-sim's halt on the bus")

    def halted_by_kill_switch() -> bool:
        browser.get(stack.url + "/console/accounts")
        return "kill_switch" in browser.find_element(By.CSS_SELECTOR, f"#account-{ACCOUNT} .halt-reason").text

    stack.wait_for(halted_by_kill_switch, 10, "the halt to come back over the bus")
    shot(browser, "accounts_after_kill_switch")


def test_the_live_tail_shows_a_new_event_as_it_is_published(browser, stack: ConsoleStack) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    sign_in(browser, stack, DEV_KEYS["viewer"])
    browser.get(stack.url + "/console/live?event_type=signal")
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "stream-state").text == "live")
    signal = stack.new_signal()
    stack.publish([signal])
    published = time.monotonic()
    # a deadline, not a speed target (the latency is printed; `make bench-console` measures it)
    WebDriverWait(browser, 15.0, poll_frequency=0.02).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, f'#tail tr[data-event-id="{signal.event_id}"]')
    )
    print(f"live tail: shown {1000 * (time.monotonic() - published):.0f} ms after the publish was acknowledged")
    shot(browser, "live")


def test_the_performance_page_draws_the_equity_curve_and_lists_the_trades(browser, stack: ConsoleStack) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    sign_in(browser, stack, DEV_KEYS["viewer"])
    browser.get(stack.url + f"/console/performance?account_id={ACCOUNT}")
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-charts-ready"))
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-equity canvas"), "lightweight-charts drew the equity curve"
    assert browser.find_elements(By.CSS_SELECTOR, "#chart-candles canvas"), "and the candles of the traded instrument"
    assert browser.find_element(By.ID, "candles-title").text == "MES.CME: entries and exits"
    rows = browser.find_elements(By.CSS_SELECTOR, "#trades tr.trade")
    assert len(rows) >= 2
    assert "story" in rows[0].text
    assert browser.find_elements(By.CSS_SELECTOR, "#daily tr")
    shot(browser, "performance")


def test_the_health_page_shows_readiness_and_consumer_lag(browser, stack: ConsoleStack) -> None:  # type: ignore[no-untyped-def]
    from selenium.webdriver.common.by import By

    sign_in(browser, stack, DEV_KEYS["viewer"])

    def polled() -> bool:
        browser.get(stack.url + "/console/health")
        return "recorder-" in browser.find_element(By.ID, "consumers").text

    stack.wait_for(polled, 30, "the first health poll")
    services = browser.find_element(By.ID, "services").text
    assert "exec_sim" in services and "ready" in services
    shot(browser, "health")


def test_no_page_loads_anything_from_another_host(browser, stack: ConsoleStack) -> None:  # type: ignore[no-untyped-def]
    sign_in(browser, stack, DEV_KEYS["viewer"])
    for page in ("/console/accounts", "/console/performance", "/console/live", "/console/health", "/console/story"):
        browser.get(stack.url + page)
        hosts = browser.execute_script(
            "return performance.getEntriesByType('resource').map(function (r) { return new URL(r.name).host; })"
        )
        assert set(hosts) <= {f"127.0.0.1:{stack.port}"}, (page, hosts)


def test_a_kill_switch_post_without_the_sessions_csrf_token_is_refused(stack: ConsoleStack) -> None:
    import httpx

    halts = stack.kill_switches()
    with httpx.Client(base_url=stack.url) as client:
        signed_in = client.post("/console/login", data={"key": DEV_KEYS["operator"]})
        assert signed_in.status_code == 303
        assert "HttpOnly" in signed_in.headers["set-cookie"] and "SameSite=strict" in signed_in.headers["set-cookie"]
        page = client.get("/console/accounts")
        assert page.headers["x-frame-options"] == "DENY", "a kill switch inside a frame could be clicked through"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        forged = client.post("/console/control/kill_switch", data={"account_id": ACCOUNT, "csrf": "0" * 64})
        assert forged.status_code == 403
        assert "CSRF" in forged.text
    with httpx.Client(base_url=stack.url) as anonymous:
        assert (
            anonymous.post("/console/control/kill_switch", data={"account_id": ACCOUNT, "csrf": "x"}).status_code == 401
        )
        assert anonymous.get("/console/live/stream").status_code == 401
    assert stack.kill_switches() == halts


def test_the_console_counts_sign_ins_buttons_and_page_times_on_the_recorders_metrics(stack: ConsoleStack) -> None:
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    with httpx.Client(base_url=stack.url) as client:
        assert client.post("/console/login", data={"key": "not-a-key"}).status_code == 401
        client.post("/console/login", data={"key": DEV_KEYS["viewer"]})
        assert client.get("/console/accounts").status_code == 200
        forged = client.post("/console/control/kill_switch", data={"account_id": ACCOUNT, "csrf": "0" * 64})
        assert forged.status_code == 403
        text = client.get("/metrics").text
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    assert samples[("at_obs_console_logins_total", (("outcome", "refused"),))] >= 1
    assert samples[("at_obs_console_logins_total", (("outcome", "ok"),))] >= 1
    assert samples[("at_obs_console_page_seconds_count", (("page", "/console/accounts"),))] >= 1
    assert samples[("at_obs_console_loaded", ())] == 1
    # a press exec-sim applied is one halt on the bus (the kill switch test's, when it ran first)
    ok = samples.get(("at_obs_console_controls_total", (("action", "kill_switch"), ("outcome", "ok"))), 0)
    assert ok == stack.kill_switches()
    assert samples[("at_obs_console_controls_total", (("action", "kill_switch"), ("outcome", "csrf")))] >= 1
    assert not any(name == "at_obs_console_page_seconds_count" and "stream" in str(labels) for name, labels in samples)
