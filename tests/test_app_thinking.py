"""The sidebar's thinking choice (Streamlit AppTest): only the modes the selected model
supports, its effort levels or budget, a model the table lacks looked up in the Models API of
the fake, and a chat run that sends what was chosen."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from computer_use_demo.agent import model_lookup
from computer_use_demo.app import runner as ui_runner
from tests.fake_api import FakeAnthropicAPI, message, text
from tests.support.ui import (  # noqa: F401 - fixture
    all_text,
    app,
    chat_tab,
    free_ports,
    run_until,
    ui_home,
)

API_KEY = "sk-ant-test-key-5151515151"


@pytest.fixture
def api(ui_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropicAPI]:  # noqa: F811
    model_lookup.clear_cache()
    monkeypatch.setenv("ANTHROPIC_API_KEY", API_KEY)
    (port,) = free_ports(1)
    with FakeAnthropicAPI(port=port) as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        yield server
    ui_runner.stop_all(timeout=15)


def modes(at: AppTest) -> list[str]:
    return list(at.radio(key="thinking_mode").options)


def has(at: AppTest, key: str) -> bool:
    return any(getattr(w, "key", None) == key for w in [*at.number_input, *at.selectbox])


def choose_model(at: AppTest, model: str) -> None:
    at.text_input(key="model").input(model).run()
    assert not at.exception, at.exception


def test_only_the_models_modes_are_offered_with_their_inputs(api: FakeAnthropicAPI) -> None:
    at = app()
    choose_model(at, "claude-opus-5-5")
    assert modes(at) == ["Adaptive"]  # its thinking cannot be turned off
    summary = "Up to 128,000 output tokens · \\$4.00 / \\$20.00 per million tokens in / out."
    assert summary in [c.value for c in at.sidebar.caption]
    assert at.selectbox(key="thinking_effort").options == [
        "model default (medium)", "low", "medium", "high", "xhigh", "max",
    ]  # fmt: skip
    choose_model(at, "claude-sonnet-4-6")
    assert modes(at) == ["Off", "Adaptive", "Extended"]
    assert at.radio(key="thinking_mode").value == "off"
    assert not has(at, "thinking_effort") and not has(at, "thinking_budget")
    at.radio(key="thinking_mode").set_value("adaptive").run()
    assert "xhigh" not in at.selectbox(key="thinking_effort").options
    at.selectbox(key="thinking_effort").set_value("max").run()
    at.radio(key="thinking_mode").set_value("extended").run()
    assert has(at, "thinking_budget") and not has(at, "thinking_effort")
    choose_model(at, "claude-3-5-sonnet-20241022")
    assert modes(at) == ["Off"]
    assert not [r for r in api.requests if r.method == "GET"], "known models are not looked up"


def test_the_chosen_effort_is_saved_and_sent(api: FakeAnthropicAPI, ui_home: Path) -> None:  # noqa: F811
    at = app()
    choose_model(at, "claude-opus-4-8")
    at.radio(key="thinking_mode").set_value("adaptive").run()
    at.selectbox(key="thinking_effort").set_value("xhigh").run()
    saved = json.loads((ui_home / "settings.json").read_text())
    assert (saved["thinking_mode"], saved["thinking_effort"]) == ("adaptive", "xhigh")
    api.push(message(text("Thought it through.")))
    at.chat_input[0].set_value("think hard").run()
    run_until(at, lambda a: "Thought it through." in all_text(chat_tab(a)))
    body = api.valid_requests[0].body
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert body["output_config"] == {"effort": "xhigh"}


def test_a_model_the_table_lacks_gets_the_models_api_capabilities(
    api: FakeAnthropicAPI,
) -> None:
    at = app()
    choose_model(at, "claude-opus-6")
    assert modes(at) == ["Adaptive", "Off"]
    assert at.selectbox(key="thinking_effort").options == [
        "model default", "low", "medium", "high", "max",
    ]  # fmt: skip
    assert "Up to 96,000 output tokens · no price published (from the Models API)." in all_text(
        at.sidebar
    )
    at.run()
    lookups = [r.path for r in api.requests if r.method == "GET"]
    assert lookups == ["/v1/models/claude-opus-6"], "asked once, not per rerun"
    choose_model(at, "claude-nobody-knows-2")  # 404: every choice offered, the API decides
    assert modes(at) == ["Off", "Adaptive", "Extended"]
    assert "Unknown model: no price" in all_text(at.sidebar)


def test_a_run_ended_by_a_refusal_says_so_in_the_chat(api: FakeAnthropicAPI) -> None:
    details = {"type": "refusal", "category": "cyber", "explanation": "Not this one."}
    api.push(message(text("I won't."), stop_reason="refusal", stop_details=details))
    at = app()
    at.chat_input[0].set_value("do something bad").run()
    run_until(at, lambda a: "Not this one." in all_text(chat_tab(a)))
    shown = [w.value for w in chat_tab(at).warning]
    assert any("declined" in w and "cyber" in w for w in shown), shown
    # A reload shows the same (the Done, with its detail, was saved).
    assert "Not this one." in all_text(chat_tab(app()))


@pytest.mark.parametrize(
    ("model", "offered"),
    [
        ("claude-opus-4-7", ["adaptive", "off"]),  # made for adaptive thinking: it starts so
        ("claude-opus-4-8", ["adaptive", "off"]),
        ("claude-sonnet-4-5", ["off", "extended"]),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", ["off", "extended"]),  # Bedrock's id
        ("some-unknown-model", ["off", "adaptive", "extended"]),  # 404: every choice, off first
    ],
)
def test_the_thinking_choice_in_the_references_order_and_words(
    api: FakeAnthropicAPI, model: str, offered: list[str]
) -> None:
    at = app()
    at.text_input[0].set_value(model).run()  # the model is the first text input, as there
    assert not at.exception, at.exception
    (radio,) = [r for r in at.radio if r.label == "Thinking"]
    assert list(radio.options) == [m.capitalize() for m in offered]
    assert at.session_state["thinking_mode"] == offered[0]
