"""`python app.py` under load, through the Gradio client: 8 sessions for 20 s, a burst past the queue, hostile input.

The app serves the tiny random Llama (base `tiny`, no adapter), so the figures measure the serving path
(Gradio queue, streaming, the engine's lock and prompt building), not a model's speed;
bench/robustness.py measures the same with the embedded model and the shipped adapter.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app import EXAMPLES
from medassist.batching import DEFAULT_SLOTS
from medassist.chat import ChatEngine
from medassist.safety import LONE_SURROGATE
from medassist.models import TINY
from reliability.hostile import hostile_messages, judge_turn
from reliability.load import API, TEMPERATURE, answer_text, chat_sessions, client, queue_burst, running_app

pytestmark = pytest.mark.slow  # starts app.py and runs for about a minute

SESSIONS = 8
QUEUE_SIZE = SESSIONS  # 8 sessions wait at most 7 deep, so load never meets the limit; the burst does


@pytest.fixture(scope="module")
def app_url(tmp_path_factory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("load-app")
    (folder / "no-adapter").mkdir()  # an empty folder: the base model alone (a path that does not exist is refused)
    env = {"MEDASSIST_ADAPTER": str(folder / "no-adapter"), "MEDASSIST_BASE": TINY,
           "MEDASSIST_QUEUE_SIZE": str(QUEUE_SIZE)}
    try:
        with running_app(env, folder / "app.log") as url:
            yield url
    except RuntimeError as error:  # app.py exited or never served its page: the log is in the message
        pytest.fail(str(error))


def test_eight_sessions_for_twenty_seconds_get_every_answer(app_url):
    figures = chat_sessions(app_url, EXAMPLES, sessions=SESSIONS, seconds=20)
    summary = figures.summary()
    assert summary["errors"] == 0, summary["error_samples"]
    assert all(done >= 1 for done in summary["per_session"]), summary  # every session was answered, none starved
    assert 0 < summary["ttft_p50_s"] <= summary["ttft_p95_s"] < 60


def test_requests_past_the_queue_size_are_refused_politely_and_the_app_goes_on(app_url):
    # the app runs DEFAULT_SLOTS answers at once (the batched default); 8 more than those and the queue hold are refused
    burst = queue_burst(app_url, QUEUE_SIZE, EXAMPLES[0], extra=DEFAULT_SLOTS + 8, max_new_tokens=400)
    assert burst["undecided"] == 0 and burst["other_failures"] == [], burst
    assert burst["accepted"] + burst["refused"] == burst["submitted"]
    assert burst["accepted"] >= QUEUE_SIZE  # the queue was empty: the first QUEUE_SIZE requests all fit
    assert burst["refused"] >= 1 and burst["refusal_messages"] == ["Queue is full! Please try again."]
    assert burst["last_refusal_s"] < 15  # refused at once, not after waiting for a turn
    assert burst["served_after"], burst["follow_up_error"]


def test_hostile_messages_through_the_api_get_sound_turns(app_url):
    """Every 4th hostile message (all categories) crosses JSON and the Gradio queue; each in a new session,
    since the API keeps a session's history and the judge looks at single turns."""
    judge = ChatEngine.load(None, TINY)  # the app's model and template: the same prompts and context
    chat = client(app_url)
    try:
        for category, message in hostile_messages()[::4]:
            if LONE_SURROGATE.search(message):
                continue  # lone surrogates: the Gradio client cannot encode them (test_hostile_chat covers them)
            chat.reset_session()
            reply = answer_text(chat.predict(message, TEMPERATURE, 50, api_name=API))
            assert judge_turn(judge, message, reply) is None, (category, message[:80])
    finally:
        chat.close()
