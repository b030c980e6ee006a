"""Sam opens /reports/ in Chromium, changes the date range and reads the known figures; the floor updates live.

Screenshots land in tests/artifacts/screenshots/ (reports-*.png, floor-*.png).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from .report_history import build_history

pytestmark = [pytest.mark.browser, pytest.mark.processes, pytest.mark.django_db(transaction=True)]
SHOTS = Path(__file__).resolve().parent / "artifacts" / "screenshots"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PASSWORD = "sam-reads-reports-1"


def make_sam():
    sam = get_user_model().objects.create_user("sam", password=PASSWORD, first_name="Sam", is_staff=True)
    sam.groups.add(Group.objects.get_or_create(name="supervisors")[0])
    return sam


@pytest.fixture
def history(daphne):
    """The known history and sam, written before Playwright starts (its loop makes the ORM refuse to run)."""
    build_history()
    make_sam()
    SHOTS.mkdir(parents=True, exist_ok=True)
    return daphne


@pytest.fixture
def browser(history):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


def signed_in_page(browser, base: str, next_path: str):
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    # Only the ChatDesk server is ever asked for anything.
    page.on("request", lambda r: problems.append("outside request: " + r.url)
            if not r.url.startswith(base.replace("http", "ws")) and not r.url.startswith(base) else None)
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill("#id_username", "sam")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}{next_path}*")
    problems.clear()  # the login page is not ours to judge (its favicon request 404s)
    return page, problems


def show(page):
    with page.expect_navigation():
        page.click("button.primary")


def figure(page, key: str) -> str:
    return page.inner_text(f'[data-figure="{key}"]').strip()


def test_sam_changes_the_date_range_and_reads_the_known_figures(daphne, browser):
    page, problems = signed_in_page(browser, daphne.url, "/reports/")
    # The default range is the last 30 days, where this history has nothing.
    assert figure(page, "conversations") == "0"
    page.screenshot(path=str(SHOTS / "reports-empty-default-range.png"), full_page=True)

    page.fill("#from", "2024-05-01")
    page.fill("#to", "2024-05-07")
    show(page)
    assert "from=2024-05-01&to=2024-05-07" in page.url
    assert figure(page, "conversations") == "8"
    assert figure(page, "wait_p50_s") == "40 s"
    assert figure(page, "first_response_p50_s") == "1 m 15 s"
    assert figure(page, "csat") == "60.0%"
    assert figure(page, "chat_conversion_rate") == "66.7%"
    assert figure(page, "attributed_revenue") == "$240.00"
    assert figure(page, "offer_acceptance_rate") == "40.0%"
    assert figure(page, "recovered_carts") == "2"
    assert figure(page, "intervention_lift") == "+16.7 pts"
    assert "−55.8 pts to +89.1 pts" in page.inner_text('[data-key="intervention_lift"]')
    # Every chart drew an SVG (none had to say "no data" for this range).
    assert page.locator("[data-chart] svg").count() == 6
    assert page.locator('[data-chart="reasons"] rect').count() >= 13
    page.screenshot(path=str(SHOTS / "reports-may-all-sites.png"), full_page=True)

    page.select_option("#site", "shop-b")
    show(page)
    assert "site=shop-b" in page.url
    assert figure(page, "conversations") == "1"
    assert figure(page, "attributed_revenue") == "$80.00"
    page.select_option("#site", "")
    page.select_option("#agent", "alice")
    show(page)
    assert "agent=alice" in page.url
    assert figure(page, "conversations") == "3"
    page.screenshot(path=str(SHOTS / "reports-may-alice.png"), full_page=True)
    csv = page.request.get(f"{daphne.url}/reports/export/agents.csv?from=2024-05-01&to=2024-05-07&agent=alice")
    assert csv.ok and csv.text().splitlines()[1].startswith("Alice,alice,3,")
    assert problems == []


def test_the_floor_shows_a_new_shopper_waiting_without_a_reload(daphne, browser):
    from playwright.sync_api import expect
    from websockets.sync.client import connect

    page, problems = signed_in_page(browser, daphne.url, "/reports/floor/")
    page.wait_for_selector("#live.on")
    assert page.inner_text('[data-floor="queue_length"]') == "0"
    with connect(f"{daphne.ws_url}/ws/widget/shop-a/", origin="http://localhost:8000") as shopper:
        shopper.send(json.dumps({"type": "hello", "visitor_token": None, "last_seq": 0}))
        shopper.send(json.dumps({"type": "message", "client_id": "m1", "text": "Does this ship to Canada?"}))
        expect(page.locator('[data-floor="queue_length"]')).to_have_text("1", timeout=8000)
        assert page.locator("#queue-table tbody tr[data-since]").count() == 1
        page.screenshot(path=str(SHOTS / "floor-one-waiting.png"), full_page=True)
    assert problems == []
