"""The reference's public Python API (anthropics/claude-quickstarts, computer-use-demo), name for
name and signature for signature, exercised through what it does: code written against the
reference (forks, tutorials) must import and run on ours.
"""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def params(fn: object) -> list[tuple[str, str, object]]:
    """(name, kind, default) of each parameter: what a caller of the reference relies on."""
    return [(p.name, p.kind.name, p.default) for p in inspect.signature(fn).parameters.values()]


# ---- computer_use_demo.streamlit ------------------------------------------------------------


def test_streamlit_import_runs_nothing_and_touches_no_config(tmp_path: Path) -> None:
    """Importing the app module neither runs the page nor creates ~/.anthropic."""
    env = {k: v for k, v in os.environ.items() if k not in ("CONFIG_DIR", "ANTHROPIC_API_KEY")}
    env["HOME"] = str(tmp_path)
    code = (
        "import computer_use_demo.streamlit as m\nprint(m.CONFIG_DIR, m.API_KEY_FILE, sep='\\n')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    config_dir, key_file = out.stdout.splitlines()
    assert Path(config_dir) == tmp_path / ".anthropic"
    assert Path(key_file) == tmp_path / ".anthropic" / "api_key"
    assert not (tmp_path / ".anthropic").exists()
    # Any Streamlit call outside a script run logs this; an import that ran main() would.
    assert "ScriptRunContext" not in out.stderr, out.stderr


def test_streamlit_reference_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from computer_use_demo import models
    from computer_use_demo import streamlit as app
    from computer_use_demo.loop import APIProvider

    assert [s.value for s in app.Sender] == ["user", "assistant", "tool"]
    assert app.Sender.BOT == "assistant"
    assert isinstance(app.API_KEY_FILE, Path)
    assert app.API_KEY_FILE == app.CONFIG_DIR / "api_key"
    assert "button[kind=header]" in app.STREAMLIT_STYLE
    assert app.INTERRUPT_TEXT and app.INTERRUPT_TOOL_ERROR

    # Default models and per-model defaults come from our model table, not a copy of it.
    assert set(app.PROVIDER_TO_DEFAULT_MODEL_NAME) == set(APIProvider)
    for provider, model in app.PROVIDER_TO_DEFAULT_MODEL_NAME.items():
        assert model == models.DEFAULT_MODELS[provider.value]
    assert set(app.MODEL_TO_MODEL_CONF) == set(models.MODELS)
    for model, conf in app.MODEL_TO_MODEL_CONF.items():
        info = models.model_info(model)
        assert isinstance(conf, app.ModelConfig)
        assert (conf.tool_version, conf.max_output_tokens) == (
            info.tool_version,
            info.max_output_tokens,
        )
        assert (conf.default_output_tokens, conf.has_thinking) == (
            info.default_output_tokens,
            info.has_thinking,
        )
    assert params(app.ModelConfig) == [
        ("tool_version", "KEYWORD_ONLY", inspect.Parameter.empty),
        ("max_output_tokens", "KEYWORD_ONLY", inspect.Parameter.empty),
        ("default_output_tokens", "KEYWORD_ONLY", inspect.Parameter.empty),
        ("has_thinking", "KEYWORD_ONLY", False),
    ]

    # validate_auth(provider, api_key): a sentence when it cannot work, None when it can.
    assert [p[0] for p in params(app.validate_auth)] == ["provider", "api_key"]
    assert "API key" in (app.validate_auth(APIProvider.ANTHROPIC, None) or "")
    assert app.validate_auth(APIProvider.ANTHROPIC, "sk-test") is None
    monkeypatch.delenv("CLOUD_ML_REGION", raising=False)
    assert "CLOUD_ML_REGION" in (app.validate_auth(APIProvider.VERTEX, None) or "")

    # load/save_to_storage(filename[, data]) work in CONFIG_DIR, 0600, errors not raised.
    monkeypatch.setattr(app, "CONFIG_DIR", tmp_path / "cfg")
    assert app.load_from_storage("system_prompt") is None
    app.save_to_storage("system_prompt", "  be brief \n")
    saved = tmp_path / "cfg" / "system_prompt"
    assert saved.read_text() == "  be brief \n"
    assert saved.stat().st_mode & 0o777 == 0o600
    assert app.load_from_storage("system_prompt") == "be brief"
    (tmp_path / "blocked").write_text("a file, not a directory")
    monkeypatch.setattr(app, "CONFIG_DIR", tmp_path / "blocked")
    app.save_to_storage("api_key", "sk-x")  # no exception: shown in the app instead
    assert app.load_from_storage("api_key") is None
    assert [p[0] for p in params(app.load_from_storage)] == ["filename"]
    assert [p[0] for p in params(app.save_to_storage)] == ["filename", "data"]
    assert params(app.setup_state) == []


def test_streamlit_interruption_blocks() -> None:
    from computer_use_demo import streamlit as app
    from computer_use_demo.history import heal

    stopped = {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "clicking"},
            {"type": "tool_use", "id": "toolu_1", "name": "computer", "input": {}},
            {"type": "tool_use", "id": "toolu_2", "name": "bash", "input": {"command": "ls"}},
        ],
    }
    history = [{"role": "user", "content": "open firefox"}, stopped]
    blocks = app.maybe_add_interruption_blocks(history, interrupted=True)
    assert blocks == [
        {
            "type": "tool_result",
            "tool_use_id": "toolu_1",
            "content": app.INTERRUPT_TOOL_ERROR,
            "is_error": True,
        },
        {
            "type": "tool_result",
            "tool_use_id": "toolu_2",
            "content": app.INTERRUPT_TOOL_ERROR,
            "is_error": True,
        },
        {"type": "text", "text": app.INTERRUPT_TEXT},
    ]
    # Used as the reference does, the next user turn is one the API accepts as it is.
    turn = {"role": "user", "content": [*blocks, {"type": "text", "text": "stop that"}]}
    assert heal([*history, turn])[1:] == [stopped, turn]
    assert app.maybe_add_interruption_blocks(history, interrupted=False) == []
    # After a finished turn there is nothing to answer: only the note.
    done = [*history[:1], {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}]
    assert app.maybe_add_interruption_blocks(done, interrupted=True) == [
        {"type": "text", "text": app.INTERRUPT_TEXT}
    ]
    # Outside a script run no loop was interrupted (the reference's in_sampling_loop key).
    assert app.maybe_add_interruption_blocks() == []
