"""The chat app's sidebar (Streamlit AppTest): every setting, its persistence, the auth check."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from computer_use_demo.agent import models
from computer_use_demo.app.settings import load_settings
from tests.support.ui import all_text, app, ui_home  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("ui_home")


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def warnings(at: AppTest) -> list[str]:
    return [w.value for w in at.warning]


def auth_warning(at: AppTest) -> str | None:
    return next((w for w in warnings(at) if "auth issue" in w), None)


def test_defaults_title_warning_and_key_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    at = app()
    assert at.title[0].value == "Claude Computer Use Demo"
    assert any("Security Alert" in w for w in warnings(at))
    assert at.radio(key="provider").value == "anthropic"
    assert at.text_input(key="model").value == models.DEFAULT_MODELS["anthropic"]
    info = models.model_info(models.DEFAULT_MODELS["anthropic"])
    assert at.radio(key="tool_version").value == info.tool_version
    assert at.number_input(key="max_tokens").value == info.default_output_tokens
    assert at.number_input(key="only_n_most_recent_images").value == 3
    # The default model's thinking modes, the sidebar's default first (the reference's: a
    # model made for adaptive thinking starts with it); no budget field unless extended.
    assert at.radio(key="thinking_mode").value == "adaptive"
    assert at.radio(key="thinking_mode").options == ["Adaptive", "Off"]
    assert not [n for n in at.number_input if n.key == "thinking_budget"]
    # No key yet: the chat does not open, the user is told what to do.
    assert "Enter your Claude API key" in (auth_warning(at) or "")
    assert len(at.chat_input) == 0

    monkeypatch.setenv("HIDE_WARNING", "1")
    assert not any("Security Alert" in w for w in warnings(app()))


def test_api_key_is_saved_0600_and_loaded_before_the_environment(
    ui_home: Path,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = app()
    assert "Claude API key: not set" in captions(at)
    at.text_input(key="new_api_key").input("sk-ant-typed-key-0001").run()
    key_file = ui_home / "api_key"
    assert key_file.read_text() == "sk-ant-typed-key-0001"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(ui_home.stat().st_mode) == 0o700
    # The chat opens once there is a key.
    assert auth_warning(at) is None
    assert at.chat_input[0].placeholder.startswith("Type a message to send to Claude")
    assert [t.label for t in at.tabs] == ["Chat", "HTTP Exchange Logs"]

    # The field is emptied at once: the value never goes back to the browser.
    assert at.text_input(key="new_api_key").value == ""
    assert f"Claude API key: set, saved in {key_file}" in captions(at)
    assert "sk-ant-typed-key-0001" not in all_text(at.sidebar)

    # A new tab loads the saved key; the file wins over the environment (the reference's order).
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-from-env-0002")
    again = app()
    assert again.session_state.cfg["api_key"] == "sk-ant-typed-key-0001"
    assert f"Claude API key: set, saved in {key_file}" in captions(again)
    assert again.text_input(key="new_api_key").value == ""
    key_file.unlink()
    from_env = app()
    assert "Claude API key: set, from the environment (ANTHROPIC_API_KEY)" in captions(from_env)
    assert from_env.session_state.cfg["api_key"] == "sk-ant-from-env-0002"
    assert "sk-ant-from-env-0002" not in all_text(from_env.sidebar)


def test_api_key_can_be_replaced_and_cleared(ui_home: Path) -> None:  # noqa: F811
    at = app()
    at.text_input(key="new_api_key").input("sk-ant-first-key-0001").run()
    assert at.text_input(key="new_api_key").label == "Replace the Claude API key"
    at.text_input(key="new_api_key").input("sk-ant-second-key-0002").run()
    assert (ui_home / "api_key").read_text() == "sk-ant-second-key-0002"
    assert auth_warning(at) is None
    at.button(key="clear_api_key").click().run()
    assert not (ui_home / "api_key").exists()
    assert "Claude API key: not set" in captions(at)
    assert "Enter your Claude API key" in (auth_warning(at) or "")
    assert "Claude API key: not set" in captions(app())


def test_every_setting_persists_across_sessions(ui_home: Path) -> None:  # noqa: F811
    at = app()
    at.text_input(key="new_api_key").input("sk-ant-key-0003").run()
    at.number_input(key="only_n_most_recent_images").set_value(5).run()
    at.text_area(key="system_prompt_suffix").input("Always answer in French.").run()
    at.text_input(key="model").input("claude-sonnet-4-6").run()
    at.radio(key="tool_version").set_value("computer_use_20241022").run()
    at.checkbox(key="hide_images").check().run()
    at.checkbox(key="token_efficient_tools_beta").check().run()
    at.number_input(key="max_tokens").set_value(9000).run()
    at.radio(key="thinking_mode").set_value("extended").run()
    at.number_input(key="thinking_budget").set_value(3000).run()
    assert not at.exception

    assert (ui_home / "system_prompt").read_text() == "Always answer in French."
    assert stat.S_IMODE((ui_home / "system_prompt").stat().st_mode) == 0o600
    assert stat.S_IMODE((ui_home / "settings.json").stat().st_mode) == 0o600

    again = app()
    assert again.number_input(key="only_n_most_recent_images").value == 5
    assert again.text_area(key="system_prompt_suffix").value == "Always answer in French."
    assert again.checkbox(key="hide_images").value is True
    assert again.checkbox(key="token_efficient_tools_beta").value is True
    assert again.radio(key="tool_version").value == "computer_use_20241022"
    assert again.number_input(key="max_tokens").value == 9000
    assert again.radio(key="thinking_mode").value == "extended"
    assert again.number_input(key="thinking_budget").value == 3000

    # The settings the app would run with are exactly these (read once into a LoopConfig).
    settings = load_settings()
    assert (settings.tool_version, settings.max_tokens, settings.thinking_budget) == (
        "computer_use_20241022",
        9000,
        3000,
    )


def test_changing_the_model_resets_its_defaults() -> None:
    at = app()
    at.radio(key="tool_version").set_value("computer_use_20251124").run()
    at.number_input(key="max_tokens").set_value(1234).run()
    at.radio(key="thinking_mode").set_value("adaptive").run()
    at.text_input(key="model").input("claude-3-5-sonnet-20241022").run()
    assert at.radio(key="tool_version").value == "computer_use_20241022"
    assert at.number_input(key="max_tokens").value == 4096
    assert at.radio(key="thinking_mode").value == "off"
    assert at.radio(key="thinking_mode").options == ["Off"]
    at.text_input(key="model").input("claude-opus-4-5-20251101").run()
    assert at.radio(key="tool_version").value == "computer_use_20251124"
    assert at.number_input(key="max_tokens").value == 16384
    # ...and the choice survives a new session.
    assert app().text_input(key="model").value == "claude-opus-4-5-20251101"


def test_damaged_settings_file_falls_back_field_by_field(ui_home: Path) -> None:  # noqa: F811
    ui_home.mkdir(parents=True)
    (ui_home / "settings.json").write_text(
        json.dumps({"provider": "nope", "max_tokens": "lots", "hide_images": True, "x": 1})
    )
    at = app()
    assert at.radio(key="provider").value == "anthropic"
    assert (
        at.number_input(key="max_tokens").value
        == models.model_info(models.DEFAULT_MODELS["anthropic"]).default_output_tokens
    )
    assert at.checkbox(key="hide_images").value is True
    (ui_home / "settings.json").write_text("{not json")
    assert app().radio(key="provider").value == "anthropic"


def test_unwritable_config_dir_is_reported_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("CONFIG_DIR", str(blocker / "anthropic"))
    at = app()
    at.text_input(key="new_api_key").input("sk-ant-key-0004").run()
    assert not at.exception
    assert any("Could not save the API key" in w for w in warnings(at))
    # The key still applies to this session; sending says why nothing can be saved.
    assert auth_warning(at) is None
    at.chat_input[0].set_value("hello").run()
    assert not at.exception
    assert any("Could not create the session folder" in e.value for e in at.error)


def test_auth_messages_per_provider(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = app()
    # Bedrock: no key field, a message about AWS credentials, then about the region.
    at.radio(key="provider").set_value("bedrock").run()
    assert at.text_input(key="model").value == models.DEFAULT_MODELS["bedrock"]
    assert not [t for t in at.text_input if t.key == "new_api_key"]
    assert "AWS credentials" in (auth_warning(at) or "")
    assert any(c.startswith("AWS credentials: not found here") for c in captions(at))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret-example-secret-example")
    at.radio(key="provider").set_value("anthropic").run()
    at.radio(key="provider").set_value("bedrock").run()
    assert "AWS_REGION" in (auth_warning(at) or "")
    shown = captions(at)
    assert (
        "AWS credentials: from the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)" in shown
    )
    assert "AWS_ACCESS_KEY_ID" in all_text(at.sidebar)
    assert "secret-example-secret-example" not in all_text(at.sidebar)
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    at.radio(key="provider").set_value("vertex").run()
    # Vertex: the region first, then the Google credentials.
    assert at.text_input(key="model").value == models.DEFAULT_MODELS["vertex"]
    assert "CLOUD_ML_REGION" in (auth_warning(at) or "")
    monkeypatch.setenv("CLOUD_ML_REGION", "us-east5")
    at.radio(key="provider").set_value("bedrock").run()
    assert auth_warning(at) is None  # bedrock with credentials and a region: the chat opens
    assert len(at.chat_input) == 1
    at.radio(key="provider").set_value("vertex").run()
    assert "Google Cloud credentials" in (auth_warning(at) or "")
    # An access token given outright is enough (no Google credentials to look up).
    monkeypatch.setenv("ANTHROPIC_VERTEX_ACCESS_TOKEN", "ya29.example-token")
    at.radio(key="provider").set_value("anthropic").run()
    at.radio(key="provider").set_value("vertex").run()
    assert auth_warning(at) is None
    monkeypatch.delenv("ANTHROPIC_VERTEX_ACCESS_TOKEN")
    at.radio(key="provider").set_value("anthropic").run()
    at.radio(key="provider").set_value("vertex").run()
    assert "Google Cloud credentials" in (auth_warning(at) or "")
    creds = tmp_path / "adc.json"
    creds.write_text(
        json.dumps(
            {
                "type": "authorized_user",
                "client_id": "example.apps.googleusercontent.com",
                "client_secret": "example",
                "refresh_token": "example",
            }
        )
    )
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(creds))
    at.radio(key="provider").set_value("anthropic").run()
    at.radio(key="provider").set_value("vertex").run()
    assert auth_warning(at) is None
    # The provider choice persists.
    assert app().radio(key="provider").value == "vertex"
