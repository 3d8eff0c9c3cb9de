"""The web app in a real headless Chromium: `python app.py` on the embedded model + a LoRA adapter, streaming answers.

Needs Debian's chromium at /usr/bin/chromium (`make test` installs it) and Playwright's Python package;
no browser is downloaded and nothing leaves localhost.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from reliability.load import running_app

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
DISCLAIMER_TEXT = "not personal medical advice"
XSS_MESSAGE = '<script>window.__pwned = 1</script> <img src=x onerror="window.__pwned=2"> What is asthma?'

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (make test installs it)"),
]


@pytest.fixture(scope="module")
def embedded_adapter(tmp_path_factory) -> Path:
    """A small LoRA adapter on the embedded model, saved the way training saves it (no training: B starts at zero)."""
    from peft import LoraConfig, get_peft_model

    from medassist.config import EMBEDDED, EMBEDDED_HUB_ID
    from medassist.models import load_base

    model, _ = load_base(EMBEDDED)
    tuned = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    tuned.peft_config["default"].base_model_name_or_path = EMBEDDED_HUB_ID
    path = tmp_path_factory.mktemp("medical_lora_adapter")
    tuned.save_pretrained(path, save_embedding_layers=False)
    return path


@pytest.fixture(scope="module")
def app_url(embedded_adapter, tmp_path_factory) -> Iterator[str]:
    env = {"MEDASSIST_ADAPTER": str(embedded_adapter), "MEDASSIST_MAX_NEW_TOKENS": "60"}
    try:
        with running_app(env, tmp_path_factory.mktemp("app") / "app.log") as url:
            yield url
    except RuntimeError as error:  # app.py exited or never served its page: the log is in the message
        pytest.fail(str(error))


def test_chat_app_streams_sourced_answers_stops_on_request_and_gives_emergency_guidance(app_url, embedded_adapter):
    from playwright.sync_api import expect, sync_playwright

    from app import EXAMPLES

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1000})
            page.goto(app_url, wait_until="domcontentloaded")
            expect(page.get_by_text("MedAssist").first).to_be_visible(timeout=60_000)
            expect(page.get_by_text(embedded_adapter.name).first).to_be_visible()  # the header names the adapter
            expect(page.get_by_text("Not medical advice").first).to_be_visible()  # the disclaimer above the chat

            page.get_by_text(EXAMPLES[0]).first.click()
            bot = page.locator('[data-testid="bot"]')
            expect(bot.filter(has_text=DISCLAIMER_TEXT)).to_have_count(1, timeout=180_000)
            answer = bot.filter(has_text=DISCLAIMER_TEXT).first.inner_text()
            assert len(answer.split(DISCLAIMER_TEXT)[0].split()) > 3  # a streamed answer before the disclaimer
            expect(page.get_by_text("Source [1]:").first).to_be_visible()  # its sources, as collapsible cards
            page.screenshot(path=str(ARTIFACTS / "chat_app_answer.png"), full_page=True)
            answered = bot.count()

            textbox = page.locator("textarea").first
            textbox.fill("What is the mechanism of action of metformin? Explain every step in great detail.")
            textbox.press("Enter")
            expect(bot).to_have_count(answered + 4, timeout=60_000)  # streaming has started, its 3 sources beside it
            page.locator('button[aria-label="Stop"], button.stop-button').first.click()
            page.wait_for_timeout(2_000)  # a token already on its way may still land
            stopped = bot.nth(answered).inner_text()
            page.wait_for_timeout(4_000)
            assert bot.nth(answered).inner_text() == stopped and DISCLAIMER_TEXT not in stopped  # stopped mid-way
            expect(bot).to_have_count(answered + 4)  # the stopped answer keeps its sources

            textbox.fill("My father suddenly has crushing chest pain and is sweating. What should we do?")
            textbox.press("Enter")
            expect(bot.last).to_contain_text("MedAssist is an AI and cannot assess an emergency", timeout=120_000)
            expect(bot.last).to_contain_text(DISCLAIMER_TEXT)
            expect(bot.last.locator("blockquote")).to_have_count(1)  # shown as a warning block
            textbox.fill("What should I do while I wait?")  # the conversation stays in emergency mode
            textbox.press("Enter")
            expect(page.locator('[data-testid="user"]')).to_have_count(4, timeout=60_000)
            expect(bot.last).to_contain_text("911", timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "chat_app_emergency.png"), full_page=True)

            textbox.fill(XSS_MESSAGE)
            textbox.press("Enter")
            expect(page.locator('[data-testid="user"]')).to_have_count(5, timeout=60_000)
            expect(bot.last).to_contain_text(DISCLAIMER_TEXT, timeout=180_000)
            shown = page.locator('[data-testid="user"]').last
            expect(shown).to_contain_text("What is asthma?")  # the message is shown, with its markup made inert
            assert page.evaluate("typeof window.__pwned") == "undefined"  # neither the script nor onerror ran
            chat = page.locator('[data-testid="user"], [data-testid="bot"]')
            assert chat.locator("script, iframe, [onerror], [onload]").count() == 0
        finally:
            browser.close()


def test_on_a_phone_the_first_example_and_the_input_box_are_visible_without_scrolling(app_url):
    from playwright.sync_api import expect, sync_playwright

    from app import EXAMPLES

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
            page.goto(app_url, wait_until="domcontentloaded")
            expect(page.get_by_text(EXAMPLES[0]).first).to_be_in_viewport(timeout=60_000)
            expect(page.locator("textarea").first).to_be_in_viewport()
            page.screenshot(path=str(ARTIFACTS / "chat_app_390px.png"))
        finally:
            browser.close()
