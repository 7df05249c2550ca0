"""The task API on the real stack (image/ scripts: desktop, chat app, the door), the fake
Messages API behind it, every endpoint through httpx with good and bad input; and a run
started over the API followed live in the chat, in headless Chromium."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from computer_use_demo.agent import history as h
from computer_use_demo.sessions.trajectory import Trajectory
from tests.support.browser import launch_chromium
from tests.support.taskapi import (
    APPROVE,
    APPROVE_FINAL_DENIED,
    APPROVE_FINAL_OK,
    SHOT,
    SHOT_FINAL,
    SLOW,
    STREAM,
    STREAM_FINAL,
    api_stack,
    client,
    idle,
    read_sse,
    start,
    wait_state,
)
from tests.support.ui import Stack

pytestmark = [pytest.mark.desktop]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with api_stack(tmp_path_factory.mktemp("taskapi")) as s:
        yield s


@pytest.fixture
def http(stack: Stack) -> Iterator[httpx.Client]:
    with client(stack) as c:
        yield c
    # Whatever a test left running is stopped: one agent per desktop for the next one.
    with client(stack) as c:
        for session in c.get("/api/sessions").json():
            if session["running"]:
                c.post(f"/api/sessions/{session['id']}/stop")
                idle(c, session["id"])


def session_folder(stack: Stack, session_id: str) -> Path:
    return stack.home / ".anthropic" / "sessions" / session_id


def test_no_token_or_a_wrong_one_is_401(stack: Stack) -> None:
    for token in ("", "wrong-token"):
        with client(stack, token=token) as c:
            for method, path in (
                ("GET", "/api/sessions"),
                ("POST", "/api/sessions"),
                ("GET", "/api/openapi.json"),
                ("GET", "/mcp"),
            ):
                r = c.request(method, path)
                assert r.status_code == 401, (method, path, r.text)
                assert "token" in r.json()["detail"]
                assert r.headers["www-authenticate"].startswith("Bearer")
    with httpx.Client(trust_env=False) as c:  # the cookie works as it does for the page
        c.get(stack.page_url)
        assert c.get(f"{stack.door_url}api/sessions").status_code == 200


def test_the_schema_and_the_docs_are_served(http: httpx.Client) -> None:
    schema = http.get("/api/openapi.json").json()
    paths = schema["paths"]
    for path in (
        "/api/sessions",
        "/api/sessions/{session_id}",
        "/api/sessions/{session_id}/messages",
        "/api/sessions/{session_id}/events",
        "/api/sessions/{session_id}/stop",
        "/api/sessions/{session_id}/approvals/{approval_id}",
        "/api/sessions/{session_id}/replay",
        "/api/sessions/{session_id}/events.jsonl",
        "/api/control",
    ):
        assert path in paths, path
    assert "RunSettings" in schema["components"]["schemas"]
    docs = http.get("/api/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_unknown_ids_are_404(http: httpx.Client) -> None:
    for method, path, body in (
        ("GET", "/api/sessions/20990101-nope", None),
        ("GET", "/api/sessions/bad%20id", None),
        ("GET", "/api/sessions/20990101-nope/events", None),
        ("GET", "/api/sessions/20990101-nope/replay", None),
        ("GET", "/api/sessions/20990101-nope/events.jsonl", None),
        ("POST", "/api/sessions/20990101-nope/stop", None),
        ("POST", "/api/sessions/20990101-nope/messages", {"text": "hi"}),
        ("POST", "/api/sessions/20990101-nope/approvals/a-1", {"approved": True}),
        ("GET", "/api/nothing-here", None),
    ):
        r = http.request(method, path, json=body)
        assert r.status_code == 404, (path, r.status_code, r.text)
    session_id = http.post("/api/sessions", json={"title": "empty"}).json()["id"]
    r = http.post(f"/api/sessions/{session_id}/approvals/nothing-pending", json={"approved": True})
    assert r.status_code == 404 and "no pending approval" in r.json()["detail"]
    r = http.get(f"/api/sessions/{session_id}/images/0123456789abcdef0123.png")
    assert r.status_code == 404


def test_bad_input_is_422_with_what_is_wrong(http: httpx.Client) -> None:
    session_id = http.post("/api/sessions", json={}).json()["id"]
    url = f"/api/sessions/{session_id}/messages"
    cases = [
        ({"text": ""}, "text"),
        ({"text": "hi", "settings": {"tool_version": "computer_use_1999"}}, "tool_version"),
        ({"text": "hi", "settings": {"approve_bash": "sometimes"}}, "approve_bash"),
        ({"text": "hi", "settings": {"max_steps": 0}}, "max_steps"),
        ({"text": "hi", "settings": {"unknown_setting": 1}}, "unknown_setting"),
        ({"text": "hi", "settings": {"thinking_budget": 10}}, "thinking_budget"),
        ({"text": "hi", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        r = http.post(url, json=body)
        assert r.status_code == 422, (body, r.text)
        assert field in json.dumps(r.json()["detail"]), (body, r.text)
    # Checks that need the settings together, said in words (the chat's own checks).
    r = http.post(
        url,
        json={
            "text": "hi",
            "settings": {"thinking_mode": "extended", "thinking_budget": 8000, "max_tokens": 4000},
        },
    )
    assert r.status_code == 422 and "budget" in r.json()["detail"], r.text
    r = http.post(url, json={"text": "   "})
    assert r.status_code == 422 and "empty" in r.json()["detail"]
    r = http.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = http.get(f"/api/sessions/{session_id}/events", headers={"Last-Event-ID": "12x"})
    assert r.status_code == 422 and "Last-Event-ID" in r.json()["detail"]
    r = http.get(f"/api/sessions/{session_id}/events", headers={"Last-Event-ID": "999999"})
    assert r.status_code == 422
    for person in ("yes", 1, None):
        r = http.post("/api/control", json={"person": person})
        assert r.status_code == 422, r.text
    assert http.get("/api/control").json() == {"person": False}
    # Nothing of that started a run or left a trace in the session.
    state = http.get(f"/api/sessions/{session_id}").json()
    assert not state["running"] and state["steps"] == 0 and state["last_run"] is None


def test_a_run_from_start_to_its_answer(http: httpx.Client, stack: Stack) -> None:
    session_id = start(http, SHOT)
    events = read_sse(
        http, f"/api/sessions/{session_id}/events?until_done=true", stop=lambda e: False
    )
    kinds = [e.event for e in events]
    assert kinds[0] == "user" and kinds[-1] == "done", kinds
    for kind in ("step", "assistant", "tool_started", "tool_result", "usage", "api_exchange"):
        assert kind in kinds, kinds
    assert "text_delta" in kinds  # the stream of Claude's text, as it came
    ids = [int(e.id) for e in events if "." not in e.id]
    assert ids == sorted(set(ids)), "saved events in order, each once"
    assert events[-1].data["reason"] == "end_turn" and "messages" not in events[-1].data
    shot = next(e for e in events if e.event == "tool_result")
    image = http.get(shot.data["image_url"])
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")

    state = idle(http, session_id)
    assert state["last_run"]["answer"] == SHOT_FINAL
    assert state["last_run"]["reason"] == "end_turn"
    assert state["steps"] == 2 and state["usage"]["responses"] == 2
    assert state["usage"]["input_tokens"] > 0 and state["title"] == SHOT
    listed = [s for s in http.get("/api/sessions").json() if s["id"] == session_id]
    assert listed and listed[0]["steps"] == 2 and not listed[0]["running"]

    replay = http.get(f"/api/sessions/{session_id}/replay")
    assert replay.status_code == 200 and SHOT_FINAL in replay.text
    assert "attachment" in replay.headers["content-disposition"]
    raw = http.get(f"/api/sessions/{session_id}/events.jsonl")
    lines = [json.loads(line) for line in raw.text.splitlines() if line.strip()]
    assert [line["kind"] for line in lines] == [k for k in kinds if not k.endswith("_delta")]
    # The same session on disk, as the chat reads it: a valid history to go on from.
    history = Trajectory.open(session_folder(stack, session_id)).messages()
    assert history == h.heal(history) and history[-1]["role"] == "assistant"


def test_reconnecting_with_last_event_id_gets_the_rest_once(http: httpx.Client) -> None:
    session_id = start(http, SLOW)
    url = f"/api/sessions/{session_id}/events"
    # First connection: up to the bash call, then the client goes away.
    first = read_sse(http, url, stop=lambda e: e.event == "tool_started")
    last_id = first[-1].id
    http.post(f"/api/sessions/{session_id}/stop")  # events come while nobody listens
    idle(http, session_id)
    rest = read_sse(http, f"{url}?until_done=true", headers={"Last-Event-ID": last_id})
    whole = read_sse(http, f"{url}?until_done=true")
    saved = lambda events: [(e.id, e.event) for e in events if "." not in e.id]  # noqa: E731
    assert saved(first) + saved(rest) == saved(whole), "nothing missed, nothing twice"
    assert rest[-1].event == "done" and rest[-1].data["reason"] == "stopped"
    # The query parameter does the same for clients that cannot set headers.
    again = read_sse(http, f"{url}?until_done=true&after={last_id}")
    assert saved(again) == saved(rest)


def test_a_second_run_while_one_works_is_409_saying_who(http: httpx.Client) -> None:
    session_id = start(http, SLOW)
    wait_state(http, session_id, lambda s: s["running"] and s["steps"] >= 1)
    again = http.post(f"/api/sessions/{session_id}/messages", json={"text": "and again"})
    assert again.status_code == 409, again.text
    assert "already going" in again.json()["detail"]
    assert again.json()["holder"].startswith("task API")
    other = http.post("/api/sessions", json={}).json()["id"]
    elsewhere = http.post(f"/api/sessions/{other}/messages", json={"text": "meanwhile"})
    assert elsewhere.status_code == 409, elsewhere.text
    assert "one agent per desktop" in elsewhere.json()["detail"]
    assert session_id in elsewhere.json()["holder"]
    # interrupt: true stops this session's run and sends the new message.
    interrupted = http.post(
        f"/api/sessions/{session_id}/messages", json={"text": SHOT, "interrupt": True}
    )
    assert interrupted.status_code == 202, interrupted.text
    state = idle(http, session_id)
    assert state["last_run"]["reason"] == "end_turn"
    stopped = http.post(f"/api/sessions/{session_id}/stop").json()
    assert stopped == {"stopped": False}


def test_stop_ends_the_run_and_leaves_a_valid_history(http: httpx.Client, stack: Stack) -> None:
    session_id = start(http, SLOW)
    read_sse(http, f"/api/sessions/{session_id}/events", stop=lambda e: e.event == "tool_started")
    assert http.post(f"/api/sessions/{session_id}/stop").json() == {"stopped": True}
    state = idle(http, session_id, timeout=30)
    assert state["last_run"]["reason"] == "stopped"
    history = Trajectory.open(session_folder(stack, session_id)).messages()
    assert history == h.heal(history)
    results = [b for m in history for b in m["content"] if b.get("type") == "tool_result"]
    assert results and results[-1]["is_error"]


@pytest.mark.parametrize("approved", [True, False])
def test_an_approval_is_answered_over_the_api(http: httpx.Client, approved: bool) -> None:
    session_id = start(http, APPROVE, approve_bash="ask")
    state = wait_state(http, session_id, lambda s: s["pending_approval"] is not None)
    asked = state["pending_approval"]
    assert asked["action_class"] == "bash" and "approved-command-ran" in asked["description"]
    wrong = http.post(
        f"/api/sessions/{session_id}/approvals/not-{asked['id']}", json={"approved": True}
    )
    assert wrong.status_code == 404
    r = http.post(
        f"/api/sessions/{session_id}/approvals/{asked['id']}", json={"approved": approved}
    )
    assert r.status_code == 200, r.text
    state = idle(http, session_id)
    assert state["last_run"]["answer"] == (APPROVE_FINAL_OK if approved else APPROVE_FINAL_DENIED)
    events = read_sse(http, f"/api/sessions/{session_id}/events?until_done=true")
    answered = [e for e in events if e.event == "approval_answered"]
    assert answered and answered[0].data == {
        "kind": "approval_answered",
        "id": asked["id"],
        "approved": approved,
    }


def test_take_control_and_hand_back(http: httpx.Client, stack: Stack) -> None:
    assert http.get("/api/control").json() == {"person": False}
    assert http.post("/api/control", json={"person": True}).json() == {"person": True}
    try:
        session_id = start(http, SHOT)
        state = wait_state(http, session_id, lambda s: s["paused"])
        events = read_sse(
            http, f"/api/sessions/{session_id}/events", stop=lambda e: e.event == "paused"
        )
        assert events[-1].event == "paused"
        assert http.get(f"/api/sessions/{session_id}").json()["steps"] == 0
        # The door's own toggle (the combined page) sees the same hold.
        assert http.get("/control").json()["person"] is True
    finally:
        assert http.post("/api/control", json={"person": False}).json() == {"person": False}
    state = idle(http, session_id)
    assert state["last_run"]["answer"] == SHOT_FINAL and not state["paused"]


def test_text_streams_as_deltas_with_ids(http: httpx.Client) -> None:
    session_id = start(http, STREAM)
    events = read_sse(http, f"/api/sessions/{session_id}/events?until_done=true")
    deltas = [e for e in events if e.event == "text_delta"]
    assert len(deltas) > 3
    assert "".join(d.data["text"] for d in deltas) == STREAM_FINAL
    assert all(re.fullmatch(r"\d+\.\d+", d.id) for d in deltas)
    assert len({d.id for d in deltas}) == len(deltas)


@pytest.mark.browser
def test_a_run_started_over_the_api_shows_live_in_the_chat(
    http: httpx.Client, stack: Stack, artifacts_dir: str
) -> None:
    session_id = start(http, SLOW)
    wait_state(http, session_id, lambda s: s["running"] and s["steps"] >= 1)
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(stack.page_url)  # the token becomes the door's cookie
        page.goto(f"{stack.door_url}chat/?session={session_id}")
        page.get_by_text("started by the task API").wait_for(timeout=60_000)
        page.get_by_text("Sleeping.").wait_for(timeout=60_000)
        page.screenshot(path=str(Path(artifacts_dir) / "taskapi-run-in-chat.png"))
        # A message from the chat meanwhile: one agent per desktop, across the processes.
        box = page.get_by_placeholder(re.compile("Type a message to send to Claude"))
        box.fill("A message while the API's run works")
        box.press("Enter")
        page.get_by_text(re.compile("another agent is already using the desktop")).wait_for(
            timeout=60_000
        )
        # Stop from the chat: it reaches the door's run through the session folder.
        page.locator(".st-key-stop_agent button").click()
        state = idle(http, session_id, timeout=60)
        assert state["last_run"]["reason"] == "stopped"
        page.get_by_text("started by the task API").wait_for(state="detached", timeout=60_000)


@pytest.mark.browser
def test_a_run_of_the_chat_is_seen_followed_and_stopped_over_the_api(
    http: httpx.Client, stack: Stack
) -> None:
    with launch_chromium() as browser:
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(stack.page_url)
        page.goto(f"{stack.door_url}chat/?session=new")
        box = page.get_by_placeholder(re.compile("Type a message to send to Claude"))
        box.fill(SLOW)
        box.press("Enter")

        def chat_run() -> dict | None:
            return next(
                (
                    s
                    for s in http.get("/api/sessions").json()
                    if s["running"] and (s["running_in"] or "").startswith("chat app")
                ),
                None,
            )

        deadline = time.monotonic() + 60
        while (session := chat_run()) is None:
            assert time.monotonic() < deadline, http.get("/api/sessions").json()[:2]
            time.sleep(0.2)
        session_id = session["id"]
        events = read_sse(
            http, f"/api/sessions/{session_id}/events", stop=lambda e: e.event == "tool_started"
        )
        assert events[0].event == "user" and events[0].data["text"] == SLOW
        # One agent per desktop, the other way round: the API waits for the chat's agent.
        for target in (session_id, http.post("/api/sessions", json={}).json()["id"]):
            r = http.post(f"/api/sessions/{target}/messages", json={"text": SHOT})
            assert r.status_code == 409, r.text
            assert r.json()["holder"].startswith("chat app"), r.json()
        assert http.post(f"/api/sessions/{session_id}/stop").json() == {"stopped": True}
        state = idle(http, session_id, timeout=30)
        assert state["last_run"]["reason"] == "stopped"


def test_sessions_list_shows_runs_of_the_api(http: httpx.Client) -> None:
    session_id = start(http, SLOW)
    wait_state(http, session_id, lambda s: s["running"])
    listed = {s["id"]: s for s in http.get("/api/sessions").json()}
    assert listed[session_id]["running"]
    assert listed[session_id]["running_in"].startswith("task API (pid ")
    # Many followers at once, and one that leaves early, do not disturb the run.
    results: list[int] = []

    def follow() -> None:
        with client_like(http) as c:
            results.append(len(read_sse(c, f"/api/sessions/{session_id}/events?until_done=true")))

    threads = [threading.Thread(target=follow) for _ in range(5)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    http.post(f"/api/sessions/{session_id}/stop")
    for t in threads:
        t.join(30)
    assert len(results) == 5 and len(set(results)) == 1


def client_like(http: httpx.Client) -> httpx.Client:
    return httpx.Client(base_url=http.base_url, headers=http.headers, timeout=60, trust_env=False)
