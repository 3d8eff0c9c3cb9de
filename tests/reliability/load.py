"""Drive the real web app (`python app.py`) the way many users would, through the Gradio client.

- `running_app`: start app.py on a free local port and stop it afterwards (the browser test uses it too);
- `chat_sessions`: N sessions, each asking one question after another, for a bounded time, with the time to
  first token of every request as the client sees it (queueing included: with one generation at a time,
  that wait is what a user feels). The app keeps each session's history, so later questions carry the
  earlier turns. The client polls its event stream every 50 ms, so times are that coarse;
- `queue_burst`: more requests at once than the queue holds: the extra ones must be refused at once with
  Gradio's queue-full error, and the app must go on serving.
"""

from __future__ import annotations

import math
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from gradio_client import Client
from gradio_client.utils import QueueError

from medassist.safety import DISCLAIMER

ROOT = Path(__file__).resolve().parents[2]
API = "/answer"  # app.py's chat function, as the Gradio API names it
TEMPERATURE = 0.1  # the app's slider floor; the API takes no 0
POLL_S = 0.01
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # the client's telemetry would try to leave localhost


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_app(env: dict[str, str], log_path: Path, start_timeout_s: float = 180) -> Iterator[str]:
    """`python app.py` with `env` added, on a free port; yields its URL once the page is served, stops it after."""
    port = free_port()
    full_env = {**os.environ, **env, "PORT": str(port), "GRADIO_ANALYTICS_ENABLED": "False"}
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"app.py exited with {process.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"app.py did not serve {url} within {start_timeout_s:.0f} s:\n{log_path.read_text()}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def client(url: str, workers: int = 8) -> Client:
    return Client(url, verbose=False, max_workers=workers, download_files=False, analytics_enabled=False)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) by the nearest-rank method; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q / 100) - 1)]


@dataclass
class Request:
    session: int
    first_token_s: float | None = None  # from submit to the first streamed text
    total_s: float | None = None
    error: str | None = None


def ask(chat: Client, question: str, max_new_tokens: int, session: int = 0) -> Request:
    """One streamed request; an exception, or an answer that does not end with the disclaimer, is an error."""
    request = Request(session)
    started = time.perf_counter()
    job = chat.submit(question, TEMPERATURE, max_new_tokens, api_name=API)
    while not job.done():
        if request.first_token_s is None and any(job.outputs()):
            request.first_token_s = time.perf_counter() - started
        time.sleep(POLL_S)
    request.total_s = time.perf_counter() - started
    try:
        answer = job.result()
    except Exception as error:  # any failure the client reports is an error figure, not the end of the run
        request.error = f"{type(error).__name__}: {error}"
        return request
    if request.first_token_s is None and answer:
        request.first_token_s = request.total_s  # streamed faster than one poll
    if not answer_text(answer).endswith(DISCLAIMER):
        request.error = f"incomplete answer: {str(answer)[-80:]!r}"
    return request


def answer_text(answer: object) -> str:
    """The engine's text of an app answer: the first message when the sources follow it as titled cards, with the
    quote marks the app puts before each line of emergency guidance (its warning block) taken off."""
    if isinstance(answer, list) and answer and isinstance(answer[0], dict):
        answer = answer[0].get("content", "")
    if not isinstance(answer, str):
        return ""
    body, disclaimer = (answer.removesuffix(DISCLAIMER), DISCLAIMER) if answer.endswith(DISCLAIMER) else (answer, "")
    lines = body.splitlines()
    if lines and all(line.startswith(">") for line in lines):
        body = "\n".join(line[2:] if line.startswith("> ") else line[1:] for line in lines)
    return body + disclaimer


@dataclass
class LoadFigures:
    sessions: int
    seconds: float
    max_new_tokens: int
    requests: list[Request] = field(default_factory=list)
    wall_s: float = 0.0

    @property
    def completed(self) -> int:
        return sum(r.error is None for r in self.requests)

    @property
    def errors(self) -> list[str]:
        return [r.error for r in self.requests if r.error is not None]

    def summary(self) -> dict[str, object]:
        ttft = [r.first_token_s for r in self.requests if r.error is None and r.first_token_s is not None]
        total = [r.total_s for r in self.requests if r.error is None and r.total_s is not None]
        return dict(
            sessions=self.sessions, seconds=self.seconds, max_new_tokens=self.max_new_tokens,
            wall_s=round(self.wall_s, 1), completed=self.completed, errors=len(self.errors),
            error_samples=sorted(set(self.errors))[:5],
            ttft_p50_s=_round(percentile(ttft, 50)), ttft_p95_s=_round(percentile(ttft, 95)),
            answer_p50_s=_round(statistics.median(total) if total else None),
            per_session=[sum(r.session == s and r.error is None for r in self.requests) for s in range(self.sessions)],
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def chat_sessions(url: str, questions: Sequence[str], sessions: int = 8, seconds: float = 20,
                  max_new_tokens: int = 50) -> LoadFigures:
    """`sessions` clients at once, each asking the next question as soon as its last answer is complete, until
    `seconds` have passed (requests under way then are finished and counted)."""
    figures = LoadFigures(sessions, seconds, max_new_tokens)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def session(number: int) -> None:
        chat = client(url, workers=4)
        try:
            turn = 0
            while time.monotonic() < deadline:
                request = ask(chat, questions[(number + turn) % len(questions)], max_new_tokens, number)
                with lock:
                    figures.requests.append(request)
                turn += 1
        except Exception as error:  # a session that cannot even connect is one error, not a silent gap
            with lock:
                figures.requests.append(Request(number, error=f"{type(error).__name__}: {error}"))
        finally:
            chat.close()

    started = time.monotonic()
    threads = [threading.Thread(target=session, args=(n,), name=f"session-{n}") for n in range(sessions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    figures.wall_s = time.monotonic() - started
    return figures


def queue_burst(url: str, queue_size: int, question: str, extra: int = 8, max_new_tokens: int = 50,
                timeout_s: float = 60) -> dict[str, object]:
    """Submit queue_size + extra requests at once: each is either taken into the queue (it gets an event id)
    or refused; then the taken ones are cancelled and one more request must still be answered in full."""
    submitted = queue_size + extra
    chat = client(url, workers=2 * submitted + 4)  # each job holds a worker, plus one for its cancel watcher
    try:
        started = time.perf_counter()
        jobs = [chat.submit(question, TEMPERATURE, max_new_tokens, api_name=API) for _ in range(submitted)]
        refused: list[str] = []
        refusal_s = 0.0
        pending = set(range(submitted))
        while pending and time.perf_counter() - started < timeout_s:
            for i in sorted(pending):
                job = jobs[i]
                if job.done() and isinstance(job.exception(), QueueError):
                    refused.append(str(job.exception()))
                    refusal_s = time.perf_counter() - started
                    pending.discard(i)
                elif job.communicator.event_id is not None or job.done():
                    pending.discard(i)
            time.sleep(POLL_S)
        accepted = [job for job in jobs if job.communicator.event_id is not None]
        other_failures = [f"{type(job.exception()).__name__}: {job.exception()}" for job in jobs
                          if job.done() and job.exception() is not None and not isinstance(job.exception(), QueueError)]
        for job in accepted:
            job.cancel()
    finally:
        chat.close()
    after = client(url)
    try:
        follow_up = ask(after, question, max_new_tokens)
    finally:
        after.close()
    return dict(
        queue_size=queue_size, submitted=submitted, accepted=len(accepted), refused=len(refused),
        undecided=len(pending), other_failures=other_failures, refusal_messages=sorted(set(refused)),
        last_refusal_s=round(refusal_s, 3), served_after=follow_up.error is None, follow_up_error=follow_up.error,
        follow_up_s=_round(follow_up.total_s),
    )
