"""The web app in a real headless Chromium: `python app.py` on the embedded model + a LoRA adapter, streaming answers.

Needs Debian's chromium at /usr/bin/chromium (`make test` installs it) and Playwright's Python package;
no browser is downloaded and nothing leaves localhost.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
DISCLAIMER_TEXT = "not personal medical advice"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium (make test installs it)"),
]


@pytest.fixture(scope="module")
def embedded_adapter(tmp_path_factory) -> Path:
    """A small LoRA adapter on the embedded model, saved the way training saves it (no training: B starts at zero)."""
    from peft import LoraConfig, get_peft_model

    from medassist.models import EMBEDDED, load_base

    model, _ = load_base(EMBEDDED)
    tuned = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    tuned.peft_config["default"].base_model_name_or_path = EMBEDDED
    path = tmp_path_factory.mktemp("medical_lora_adapter")
    tuned.save_pretrained(path)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(embedded_adapter, tmp_path_factory) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path_factory.mktemp("app") / "app.log"
    env = {
        **os.environ,
        "MEDASSIST_ADAPTER": str(embedded_adapter),
        "PORT": str(port),
        "MEDASSIST_MAX_NEW_TOKENS": "60",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                pytest.fail(f"app.py exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"app.py did not serve {url} within 180 s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_chat_app_streams_answers_with_disclaimer_and_urgent_notice(app_url, embedded_adapter):
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
            expect(page.get_by_text(str(embedded_adapter)).first).to_be_visible()  # the description names the adapter

            page.get_by_text(EXAMPLES[0]).first.click()
            bot = page.locator('[data-testid="bot"]')
            expect(bot.last).to_contain_text(DISCLAIMER_TEXT, timeout=180_000)
            answer = bot.last.inner_text()
            assert len(answer.split(DISCLAIMER_TEXT)[0].split()) > 15  # a real streamed answer before the disclaimer
            page.screenshot(path=str(ARTIFACTS / "chat_app_answer.png"), full_page=True)

            box = page.get_by_placeholder("Ask a medical question...")
            box.fill("My father suddenly has crushing chest pain and is sweating. What should we do?")
            box.press("Enter")
            expect(bot).to_have_count(2, timeout=60_000)
            expect(bot.last).to_contain_text("This may be a medical emergency", timeout=60_000)
            expect(bot.last).to_contain_text(DISCLAIMER_TEXT, timeout=180_000)
            page.screenshot(path=str(ARTIFACTS / "chat_app_emergency.png"), full_page=True)
        finally:
            browser.close()
