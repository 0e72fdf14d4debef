"""The workspace in headless Chromium: a live uvicorn in this process, driven by Selenium.

Uses the Debian `chromium` and `chromedriver` (`make test` installs them); Selenium is never
allowed to fetch a driver or a browser. Screenshots of the results land in tests/artifacts/.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from classifier import registry
from classifier.api.app import create_app
from classifier.settings import Settings
from classifier.store import Store

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).parent / "artifacts"
ANGRY = (
    "I was charged twice for order 558120 and the blender arrived broken, the motor smokes "
    "after two minutes. I want a refund of the second payment now or I will take you to "
    "court. This is my third email about it."
)
# Every control the page shows must have a <label> or an aria-label.
UNLABELLED_JS = """
return Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden' && el.labels.length === 0 && !el.getAttribute('aria-label'))
  .map(el => el.id || el.name || el.outerHTML.slice(0, 80));
"""


@pytest.fixture(scope="module")
def live_settings(project_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Like the `settings` fixture, for a server that lives as long as this module."""
    root = tmp_path_factory.mktemp("browser")
    return project_settings.model_copy(
        update={"models_dir": root / "models", "database_url": f"sqlite:///{root / 'triage.db'}"}
    )


@pytest.fixture(scope="module")
def live_server(live_settings: Settings, tiny_loaded: registry.LoadedModel) -> Iterator[str]:
    app = create_app(live_settings, model=tiny_loaded)
    # The socket is bound here, so no other process can take the port in between.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the live server was not ready in 30 s"
            assert thread.is_alive(), "the live server stopped"
            time.sleep(0.1)
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("chromium and chromedriver are not installed: `make browser-deps`")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,900", "--lang=en-GB"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    browser.implicitly_wait(0)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture
def store(live_settings: Settings) -> Iterator[Store]:
    """The live server's database, opened separately, as another process would."""
    opened = Store.open(live_settings.database_url)
    yield opened
    opened.close()


def wait(browser: WebDriver, seconds: float = 15) -> WebDriverWait[WebDriver]:
    return WebDriverWait(browser, seconds)


def visible(browser: WebDriver, css: str) -> WebElement:
    element: WebElement = wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, css))
    )
    return element


def triage(browser: WebDriver, base: str, text: str = ANGRY, case_ref: str = "") -> str:
    """Submit the complaint on `/` and wait for the swapped-in results; returns the triage id."""
    browser.get(f"{base}/")
    browser.execute_script("window.pageMarker = 'before submit';")
    browser.find_element(By.ID, "text").send_keys(text)
    if case_ref:
        browser.find_element(By.ID, "case_ref").send_keys(case_ref)
    browser.find_element(By.CSS_SELECTOR, "#triage-form button[type=submit]").click()
    results = visible(browser, "#results article.results")
    # The page was not reloaded: the marker set before the submit is still there.
    assert browser.execute_script("return window.pageMarker") == "before submit"
    assert browser.current_url == f"{base}/"
    return str(results.get_attribute("data-triage-id"))


def screenshot(browser: WebDriver, path: Path, width: int) -> dict[str, Any]:
    """A full-page screenshot at `width` CSS pixels; returns the page's widths there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": width < 600}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        sizes: dict[str, Any] = browser.execute_script(
            "return {scroll: document.documentElement.scrollWidth, inner: window.innerWidth,"
            " height: document.documentElement.scrollHeight}"
        )
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {**metrics, "height": sizes["height"]}
        )
        browser.save_screenshot(str(path))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return sizes


def test_results_appear_without_a_reload(driver: WebDriver, live_server: str) -> None:
    triage_id = triage(driver, live_server)
    bars = driver.find_elements(By.CSS_SELECTOR, "#departments li.dept:not(.other)")
    assert bars, "at least one department"
    for bar in bars:
        assert bar.find_element(By.CSS_SELECTOR, ".bar .fill").size["width"] > 0
        assert bar.find_element(By.CSS_SELECTOR, ".bar .threshold").is_displayed()
        assert "threshold" in bar.text
    marks = driver.find_elements(By.CSS_SELECTOR, "#complaint .complaint mark")
    assert marks and any("take you to court" == m.text for m in marks)
    badge = driver.find_element(By.ID, "escalation-badge")
    assert (
        badge.text == "Escalate"
        and "threat of legal action" in driver.find_element(By.ID, "escalation").text
    )
    handoffs = driver.find_elements(By.CSS_SELECTOR, "#handoffs section.handoff")
    assert len(handoffs) == len(bars)
    for section in handoffs:
        assert section.find_element(By.CSS_SELECTOR, "textarea[name=body]").get_attribute("value")
        assert section.find_element(By.CSS_SELECTOR, "button[type=submit]").text == "Mark as sent"
    message = driver.find_element(By.ID, f"cm-{triage_id}-body")
    assert message.is_displayed() and "Dear customer" in str(message.get_attribute("value"))


def test_screenshots_and_no_horizontal_scroll_at_360px(driver: WebDriver, live_server: str) -> None:
    triage_id = triage(driver, live_server, case_ref="SHOT-1")
    wide = screenshot(driver, ARTIFACTS / "results.png", 1280)
    assert wide["scroll"] <= wide["inner"]
    narrow = screenshot(driver, ARTIFACTS / "results-360.png", 360)
    assert narrow["inner"] == 360
    assert narrow["scroll"] <= narrow["inner"], f"horizontal scroll at 360 px: {narrow}"
    pages = {"form": "/", "triages": "/triages", "triage": f"/triages/{triage_id}"}
    for name, path in pages.items():
        driver.get(f"{live_server}{path}")
        sizes = screenshot(driver, ARTIFACTS / f"{name}-360.png", 360)
        assert sizes["scroll"] <= sizes["inner"], f"horizontal scroll on {path}: {sizes}"
    assert (ARTIFACTS / "results.png").stat().st_size > 10_000
    assert (ARTIFACTS / "results-360.png").stat().st_size > 10_000


def test_a_correction_is_saved_as_ticked(driver: WebDriver, live_server: str, store: Store) -> None:
    triage_id = triage(driver, live_server)
    boxes = driver.find_elements(By.CSS_SELECTOR, "#corrections input[name=departments]")
    predicted = [str(b.get_attribute("value")) for b in boxes if b.is_selected()]
    assert set(predicted) == set(store.triage(triage_id).departments)
    added = next(
        str(b.get_attribute("value"))
        for b in boxes
        if not b.is_selected() and b.get_attribute("value") != "senior_management"
    )
    removed = predicted[0]
    driver.find_element(By.ID, f"fix-{triage_id}-{added}").click()
    driver.find_element(By.ID, f"fix-{triage_id}-{removed}").click()
    toggle = driver.find_element(By.ID, f"fix-{triage_id}-escalate")
    escalated = toggle.is_selected()
    toggle.click()
    author = driver.find_element(By.ID, f"author-{triage_id}")
    author.clear()
    author.send_keys("Ana Agent")
    driver.find_element(By.ID, f"comment-{triage_id}").send_keys("the motor is engineering's")
    driver.find_element(By.CSS_SELECTOR, "#corrections button[type=submit]").click()
    saved = visible(driver, "#corrections .banner.saved")
    assert saved.text.startswith("Saved.") and "Ana Agent" in saved.text
    expected = (set(predicted) - {removed}) | {added}
    (feedback,) = store.triage(triage_id).feedback
    assert set(feedback.departments) == expected
    assert feedback.escalate is (not escalated)
    assert feedback.author == "Ana Agent" and feedback.comment == "the motor is engineering's"
    # the form now shows what was saved, with a fresh key for the next correction
    assert driver.find_element(By.ID, f"fix-{triage_id}-{added}").is_selected()
    assert not driver.find_element(By.ID, f"fix-{triage_id}-{removed}").is_selected()
    assert feedback.idempotency_key != driver.find_element(
        By.CSS_SELECTOR, "#corrections input[name=key]"
    ).get_attribute("value")


def test_sent_then_acknowledged_from_the_triage_page(
    driver: WebDriver, live_server: str, store: Store
) -> None:
    case_ref = f"BRW-{uuid.uuid4().hex[:6].upper()}"
    triage_id = triage(driver, live_server, case_ref=case_ref)
    author = driver.find_element(By.ID, f"author-{triage_id}")
    author.clear()  # the page may have filled in the name remembered from an earlier test
    author.send_keys("Ana Agent")
    section = driver.find_element(By.CSS_SELECTOR, "#handoffs section.handoff")
    handoff_id = str(section.get_attribute("id")).removeprefix("handoff-")
    subject = driver.find_element(By.ID, f"h-{handoff_id}-subject")
    subject.clear()
    subject.send_keys(f"{case_ref}: please check the charges")
    section.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    state = visible(driver, f"#handoff-{handoff_id}-state[data-status=sent]")
    assert "sent" in state.text and "Sent by Ana Agent" in state.text
    glance = f"#glance-{handoff_id} .status"
    assert driver.find_element(By.CSS_SELECTOR, glance).text == "sent"
    assert store.handoff(handoff_id).subject == f"{case_ref}: please check the charges"

    driver.find_element(By.LINK_TEXT, "Recent triages").click()
    visible(driver, "form.filters")
    driver.find_element(By.LINK_TEXT, case_ref).click()
    visible(driver, f"#handoff-{handoff_id}-state")
    assert driver.current_url == f"{live_server}/triages/{triage_id}"
    assert driver.find_element(By.TAG_NAME, "h1").text == f"Triage {case_ref}"
    driver.find_element(By.CSS_SELECTOR, f"#handoff-{handoff_id}-state summary").click()
    driver.find_element(By.ID, f"ack-{handoff_id}-by").send_keys("Dana from Finance")
    driver.find_element(By.ID, f"ack-{handoff_id}-note").send_keys("refund today")
    driver.find_element(By.CSS_SELECTOR, f"#handoff-{handoff_id}-state button[type=submit]").click()
    state = visible(driver, f"#handoff-{handoff_id}-state[data-status=acknowledged]")
    assert "acknowledged" in state.text and "Acknowledged by Dana from Finance" in state.text
    assert driver.find_element(By.CSS_SELECTOR, glance).text == "acknowledged"
    handoff = store.handoff(handoff_id)
    assert (handoff.status, handoff.acknowledged_by, handoff.acknowledgement_note) == (
        "acknowledged", "Dana from Finance", "refund today",
    )  # fmt: skip
    assert handoff.sent_by == "Ana Agent"
    assert driver.execute_script(UNLABELLED_JS) == []
    screenshot(driver, ARTIFACTS / "triage.png", 1280)
    driver.get(f"{live_server}/triages")
    screenshot(driver, ARTIFACTS / "triages.png", 1280)


def test_keyboard_only_and_every_control_labelled(driver: WebDriver, live_server: str) -> None:
    driver.get(f"{live_server}/")
    keys = ActionChains(driver)

    def tab_until(check: str, limit: int = 20) -> None:
        for _ in range(limit):
            if driver.execute_script(f"return {check};"):
                return
            keys.send_keys(Keys.TAB).perform()
        raise AssertionError(f"TAB never reached: {check}")

    tab_until("document.activeElement.id === 'text'")
    keys.send_keys(ANGRY).perform()
    tab_until("document.activeElement.id === 'case_ref'")
    keys.send_keys("KEY-1").perform()
    tab_until("document.activeElement.matches('#triage-form button[type=submit]')")
    keys.send_keys(Keys.ENTER).perform()
    visible(driver, "#results article.results")
    # focus follows the swap (on htmx:load, after htmx settles the new content), so a
    # keyboard user goes on from the results
    focused = 'return document.activeElement.id === "results-title"'
    assert wait(driver, 5).until(lambda d: d.execute_script(focused))
    assert "Results for KEY-1" in driver.find_element(By.ID, "results-title").text
    controls = driver.execute_script(
        "return document.querySelectorAll('#results input, #results select, #results textarea')"
        ".length"
    )
    assert controls > 10
    assert driver.execute_script(UNLABELLED_JS) == []


def test_the_form_works_with_javascript_off(driver: WebDriver, live_server: str) -> None:
    driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        driver.get(f"{live_server}/")
        driver.find_element(By.ID, "text").send_keys(ANGRY)
        driver.find_element(By.ID, "case_ref").send_keys("NOJS-1")
        driver.find_element(By.CSS_SELECTOR, "#triage-form button[type=submit]").click()
        heading = visible(driver, "#results-title")
        assert heading.text == "Results for NOJS-1"
        # a whole page came back: the form again, holding what was typed
        assert driver.find_element(By.ID, "case_ref").get_attribute("value") == "NOJS-1"
        assert driver.find_elements(By.CSS_SELECTOR, "#complaint mark")
        # copy buttons need JavaScript, so they are not offered
        assert not any(b.is_displayed() for b in driver.find_elements(By.CSS_SELECTOR, ".copy"))
    finally:
        driver.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def test_no_errors_in_the_browser_console(driver: WebDriver, live_server: str) -> None:
    driver.get_log("browser")  # start from an empty log
    triage_id = triage(driver, live_server)
    handoff = driver.find_element(By.CSS_SELECTOR, "#handoffs section.handoff")
    handoff.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    visible(driver, f"#{handoff.get_attribute('id')}-state[data-status=sent]")
    driver.get(f"{live_server}/triages/{triage_id}")
    visible(driver, "#results-title")
    problems = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert problems == []


def test_copy_button_puts_the_note_on_the_clipboard(driver: WebDriver, live_server: str) -> None:
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": live_server, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    triage_id = triage(driver, live_server)
    button = driver.find_element(By.CSS_SELECTOR, f"[data-copy='cm-{triage_id}-subject']")
    assert button.is_displayed()
    button.click()
    wait(driver).until(lambda d: button.get_attribute("data-copied") == "yes")
    copied = driver.execute_async_script(
        "const done = arguments[0]; navigator.clipboard.readText().then(done, e => done('!' + e));"
    )
    assert copied == driver.find_element(By.ID, f"cm-{triage_id}-subject").get_attribute("value")
    assert "Copied" in driver.find_element(By.ID, "notice").text
