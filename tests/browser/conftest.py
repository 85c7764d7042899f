import os
from pathlib import Path

import pytest

# Playwright's sync API runs an event loop in the test thread; Django refuses ORM calls from a
# thread with a running loop unless told this is fine (it is: the loop is Playwright's own).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A browser page; the test fails if the Content-Security-Policy blocked anything on it."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    blocked = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    yield page
    context.close()
    assert not blocked, f"The Content-Security-Policy blocked: {blocked}"


@pytest.fixture
def screenshot():
    """Return a function that saves a full-page screenshot of a page under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def demo(transactional_db):
    """The demo data of `make run`, in the live server's database."""
    from django.core.management import call_command

    call_command("seed_demo", verbosity=0)


def sign_in(page, base: str, email: str, path: str = "/accounts/login/") -> None:
    """Sign in on the portal's (or the admin's) login page with a demo login."""
    from programs.demo import DEMO_PASSWORD

    page.goto(f"{base}{path}")
    if path.startswith("/admin/"):
        page.get_by_label("Email address").fill(email)
        page.get_by_label("Password").fill(DEMO_PASSWORD)
        page.get_by_role("button", name="Log in").click()
        pass_second_factor(page)
        return
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    pass_second_factor(page)


def pass_second_factor(page) -> None:
    """Staff are asked for a code after the password: enter the demo authenticator's."""
    from programs.demo import demo_code

    page.wait_for_load_state()
    if "/accounts/two-factor/verify/" in page.url:
        page.get_by_label("Code").fill(demo_code())
        page.get_by_role("button", name="Continue").click()


def file_ticket_in_page(page, *, title: str, severity: str, steps: str, impact: str) -> None:
    """Fill the new-ticket form (already open) as a partner would and submit it."""
    page.get_by_label("Title").fill(title)
    page.get_by_label(severity, exact=False).check()
    page.get_by_label("Category").select_option("defect")
    page.get_by_label("End customer").fill("Acme Retail GmbH")
    page.locator("#id_environment").select_option("production")
    page.get_by_label("Steps to reproduce").fill(steps)
    page.get_by_label("Business impact").fill(impact)
    page.get_by_role("button", name="Submit ticket").click()
