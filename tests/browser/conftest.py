"""Playwright fixtures: Debian's Chromium against pytest-django's live server.

Without Chromium (or without axe-core from `npm ci`) the browser tests skip, except
under CI (`CI=true` or `REQUIRE_SERVICES=1`) where a missing browser is a failure.
"""

import contextlib
import os
import re
import shutil
from pathlib import Path

import pytest

# Playwright's sync API keeps an event loop in this thread; the ORM calls made by the
# tests themselves (arranging data, reading the captured email) are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "artifacts" / "screenshots"))
TRACE_DIR = SCREENSHOT_DIR.parent / "traces"
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 740}
TIMEOUT_MS = 15_000


def _required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("REQUIRE_SERVICES") == "1"


def _unavailable(reason: str):
    """Skip on a developer's machine; fail under CI, where the browser suite must run."""
    if _required():
        pytest.fail(f"{reason} (the browser suite is required under CI)", pytrace=False)
    pytest.skip(reason)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Remember each phase's report on the test item so fixtures can see a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="package")
def browser(_fresh_screenshots):
    """One headless Chromium for the browser tests, closed after the last of them."""
    if not (os.path.isfile(CHROMIUM_PATH) and os.access(CHROMIUM_PATH, os.X_OK)):
        _unavailable(f"Chromium not found at {CHROMIUM_PATH} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -r requirements.txt)")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
    except Exception as exc:
        playwright.stop()
        _unavailable(f"Chromium at {CHROMIUM_PATH} did not start: {exc}")
    yield chromium
    chromium.close()
    playwright.stop()


# Every page of every browser test reports Content-Security-Policy violations: the browser
# fires `securitypolicyviolation` (turned into a console line by this script) and logs its own
# "Refused to ..." console error. Any of them fails the test that opened the page.
CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(
    "CSP violation: " + event.violatedDirective + " blocked " +
    (event.blockedURI || "inline") + " at " + event.sourceFile + ":" + event.lineNumber
  );
});
"""
CSP_CONSOLE = re.compile(r"CSP violation|Content Security Policy|Content-Security-Policy")


def _watch_csp(page, violations: list[str]) -> None:
    if getattr(page, "_csp_watched", False):
        return
    page._csp_watched = True

    def on_console(message):
        if CSP_CONSOLE.search(message.text):
            violations.append(f"{page.url}: {message.text}")

    page.on("console", on_console)


@pytest.fixture
def csp_violations():
    """The CSP violations reported by the pages of this test (checked after it ends)."""
    return []


@pytest.fixture
def new_page(browser, live_server, request, csp_violations):
    """Open pages on the live server; each gets its own context (cookies) and closes after.

    A test whose pages reported a Content-Security-Policy violation fails at teardown.
    """
    contexts = []

    def make(*, viewport=DESKTOP, **options):
        context = browser.new_context(base_url=live_server.url, viewport=viewport, **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.tracing.start(screenshots=True, snapshots=True)
        context.add_init_script(CSP_WATCH)
        context.on("page", lambda opened: _watch_csp(opened, csp_violations))
        contexts.append(context)
        page = context.new_page()
        _watch_csp(page, csp_violations)  # watched once: _watch_csp skips a page it knows
        return page

    yield make
    call = getattr(request.node, "rep_call", None)
    failed = call is not None and call.failed
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    for index, context in enumerate(contexts):
        if failed:
            # A failure leaves its last screen and a trace (`playwright show-trace <zip>`).
            for number, page in enumerate(context.pages):
                _save(page, f"FAILED-{name}-{index}-{number}")
            TRACE_DIR.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(Exception):
                context.tracing.stop(path=str(TRACE_DIR / f"{name}-{index}.zip"))
        else:
            context.tracing.stop()
        context.close()
    if csp_violations and not failed:
        pytest.fail(
            "Content-Security-Policy violations:\n" + "\n".join(dict.fromkeys(csp_violations)),
            pytrace=False,
        )


@pytest.fixture
def page(new_page):
    """A desktop-sized page on the live server."""
    return new_page()


@pytest.fixture
def phone_page(new_page):
    """A phone-sized page (375 px wide, touch) on the live server."""
    return new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)


def _save(page, name: str) -> Path:
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOT_DIR / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    # A failing screenshot must never hide the failure being reported.
    with contextlib.suppress(Exception):
        page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="session")
def _fresh_screenshots():
    """Empty the screenshot and trace folders once per run so CI artifacts show only this run."""
    for folder in (SCREENSHOT_DIR, TRACE_DIR):
        shutil.rmtree(folder, ignore_errors=True)
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def screenshot():
    """Save a full-page screenshot of a key page under artifacts/screenshots/."""

    def take(page, name: str) -> Path:
        path = _save(page, name)
        assert path.exists(), f"no screenshot written at {path}"
        return path

    return take
