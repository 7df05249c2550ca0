"""The chat app (Streamlit, port 8501): settings in the sidebar, the conversation, the HTTP log.

The page only renders events. Settings are read once per message into a LoopConfig; the run
itself lives in app/runner.py (a background thread that saves each event to the session's
Trajectory), so reruns, reloads, a second tab and an app restart all show the same session.

Importing this module runs nothing and touches no file: ``streamlit run`` (and AppTest) execute
it as ``__main__``, which is the only time ``main()`` is called. The reference's public names
(``Sender``, ``setup_state``, ``validate_auth``, ``load_from_storage``, ``MODEL_TO_MODEL_CONF``...)
are defined here over our settings and model table, so forks importing them keep working.
"""

from __future__ import annotations

import asyncio
import getpass
import inspect
import logging
import os
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from pathlib import Path
from typing import Any

import streamlit as st

from computer_use_demo.agent import models
from computer_use_demo.agent.events import ApprovalAnswered, ApprovalAsked, Event, redact_event
from computer_use_demo.agent.history import STOPPED_BY_USER
from computer_use_demo.agent.loop import APIProvider
from computer_use_demo.agent.redaction import known_secrets, remember_secret
from computer_use_demo.app import runner as ui_runner
from computer_use_demo.app import settings as ui_settings
from computer_use_demo.app.render import (
    dollars,
    image_bytes,
    model_summary,
    progress_text,
    render_chat,
    render_exchanges,
    render_live,
)
from computer_use_demo.app.settings import (
    PROVIDERS,
    SYSTEM_PROMPT_FILE,
    Settings,
    api_key_source,
    auth_error,
    cloud_credentials_source,
    default_model,
    delete_text,
    load_settings,
    loop_config,
    model_capabilities,
    model_defaults,
    save_settings,
    save_text,
    sessions_dir,
    settings_problem,
)
from computer_use_demo.desktop.lock import DesktopBusy
from computer_use_demo.sessions import live
from computer_use_demo.sessions.replay import render_html
from computer_use_demo.sessions.summary import usage_line, usage_totals
from computer_use_demo.sessions.trajectory import Trajectory, TrajectoryInfo
from computer_use_demo.tools.approval_policy import MODES, ApprovalPolicy
from computer_use_demo.tools.groups import TOOL_VERSIONS, ToolVersion
from computer_use_demo.tools.run import run as run_command

TITLE = "Claude Computer Use Demo"
WARNING_TEXT = (
    "⚠️ Security Alert: Never provide access to sensitive accounts or data, as malicious web "
    "content can hijack Claude's behavior"
)
CHAT_PLACEHOLDER = "Type a message to send to Claude to control the computer..."
STREAMLIT_STYLE = """
<style>
    /* The stop buttons in red: Streamlit's own (header) and the agent's. */
    button[kind=header], .st-key-stop_agent button {
        background-color: rgb(255, 75, 75);
        border: 1px solid rgb(255, 75, 75);
        color: rgb(255, 255, 255);
    }
    button[kind=header]:hover, .st-key-stop_agent button:hover {
        background-color: rgb(255, 51, 51);
    }
    .stAppDeployButton { visibility: hidden; }
    /* The progress bar (with Stop) stays in view while the conversation scrolls under it:
       sticky is set on the wrappers around it (the fragment's), up to the page's column. */
    .st-key-progress, [data-testid="stLayoutWrapper"]:has(.st-key-progress) {
        position: sticky;
        top: 3.75rem;
        z-index: 999990;
        background-color: var(--st-background-color, rgb(255, 255, 255));
        padding: 0.25rem 0;
    }
</style>
"""
POLL_SECONDS = 0.5
PROGRESS_SECONDS = 1.0
SESSIONS_SHOWN = 15
SESSION_ID = re.compile(r"^[A-Za-z0-9._-]+$")
#: What changing the model resets to that model's defaults.
MODEL_FIELDS = (
    "model",
    "tool_version",
    "max_tokens",
    "thinking_mode",
    "thinking_effort",
    "thinking_budget",
)
#: As the reference shows them (``mode.capitalize()``).
THINKING_LABELS = {"adaptive": "Adaptive", "extended": "Extended", "off": "Off"}

#: A button as wide as its column: ``width`` from Streamlit 1.45 on, the older keyword before
#: (the package runs on the Streamlit the reference pins too, 1.41).
STRETCH: dict[str, Any] = (
    {"width": "stretch"}
    if "width" in inspect.signature(st.button).parameters
    else {"use_container_width": True}
)

#: Whether a download's data may be a function called on the click (newer Streamlit), and the
#: keyword that keeps a download from rerunning the page where there is one.
LAZY_DOWNLOADS = re.search(r"data :[^\n]*callable", st.download_button.__doc__ or "") is not None
NO_RERUN: dict[str, Any] = (
    {"on_click": "ignore"}
    if inspect.signature(st.download_button).parameters["on_click"].default == "rerun"
    else {}
)

log = logging.getLogger(__name__)
ss = st.session_state


# ---- the reference's public names -----------------------------------------------------------

#: The config directory (``$CONFIG_DIR``, else ``~/.anthropic``), computed, never created here.
CONFIG_DIR: Path = ui_settings.config_dir()
#: The saved API key (mode 0600, written atomically).
API_KEY_FILE: Path = CONFIG_DIR / ui_settings.API_KEY_FILE
#: The note put before the user's message when they stopped the agent.
INTERRUPT_TEXT = ui_runner.INTERRUPT_TEXT
#: The error a tool call gets when the user stopped it before it answered.
INTERRUPT_TOOL_ERROR = STOPPED_BY_USER


class Sender(StrEnum):
    """Who a chat message is from (the chat_message avatar names)."""

    USER = "user"
    BOT = "assistant"
    TOOL = "tool"


@dataclass(kw_only=True, frozen=True)
class ModelConfig:
    """The reference's per-model defaults: a view of ``models.ModelInfo``."""

    tool_version: ToolVersion
    max_output_tokens: int
    default_output_tokens: int
    has_thinking: bool = False


#: Each provider's default model, from the model table.
PROVIDER_TO_DEFAULT_MODEL_NAME: dict[APIProvider, str] = {
    provider: default_model(provider.value) for provider in APIProvider
}
#: Model id -> its defaults, derived from ``models.MODELS`` (unknown models: ``model_info``).
MODEL_TO_MODEL_CONF: dict[str, ModelConfig] = {
    model: ModelConfig(**{f.name: getattr(info, f.name) for f in fields(ModelConfig)})
    for model, info in models.MODELS.items()
}


def validate_auth(provider: APIProvider | str, api_key: str | None) -> str | None:
    """Why ``provider`` cannot be used yet (a sentence for the user), or None."""
    return auth_error(str(provider), api_key or "")


def load_from_storage(filename: str) -> str | None:
    """A config file's stripped text from ``CONFIG_DIR``; None if missing, empty or unreadable."""
    return ui_settings.load_text(filename, {"CONFIG_DIR": str(CONFIG_DIR)})


def save_to_storage(filename: str, data: str) -> None:
    """Save a config file in ``CONFIG_DIR`` (atomic, 0600); a failure is shown, not raised."""
    _save(filename, lambda: save_text(filename, data, {"CONFIG_DIR": str(CONFIG_DIR)}))


def maybe_add_interruption_blocks(
    messages: list[dict[str, Any]] | None = None, *, interrupted: bool | None = None
) -> list[dict[str, Any]]:
    """The blocks that open the user's turn after they stopped the agent, else [].

    An error tool_result for each unanswered tool call of the last message, then
    ``INTERRUPT_TEXT``. Without arguments it reads the reference's session keys
    (``messages``, ``in_sampling_loop``); our app passes them (ui_runner does the same).
    """
    if interrupted is None:
        interrupted = bool(ss.get("in_sampling_loop", False))
    if not interrupted:
        return []
    if messages is None:
        messages = ss.get("messages", [])
    last = messages[-1:] if messages and messages[-1].get("role") == "assistant" else []
    return ui_runner.with_user_message(last, "", interrupted=True)[-1]["content"]


# ---- settings -------------------------------------------------------------------------------


def setup_state() -> None:
    """Load the saved settings once per browser session (the reference's name).

    They live in ``ss.cfg``, not in the widgets' keys: Streamlit forgets a widget's key when
    the widget is not drawn (the API key field is hidden for Bedrock and Vertex).
    """
    if "cfg" in ss:
        return
    ss.cfg = asdict(load_settings())
    remember_secret(ss.cfg["api_key"])  # redacted wherever it may turn up
    ss.setdefault("save_error", None)


def current_settings() -> Settings:
    return Settings(**ss.cfg)


def bind(name: str) -> str:
    """The widget key of a setting, (re)filled from the settings if Streamlit dropped it."""
    if name not in ss:
        ss[name] = ss.cfg[name]
    return name


def _save(what: str, save: Callable[[], None]) -> None:
    """Run a save; a failure is shown (the setting still applies to this session)."""
    try:
        save()
        ss.save_error = None
    except OSError as e:
        ss.save_error = f"Could not save the {what}: {e}"
        log.warning("could not save the %s: %s", what, e)


def _set(**values: object) -> None:
    """Change settings and the widgets that show them."""
    ss.cfg.update(values)
    for name, value in values.items():
        ss[name] = value


def selected_model_info() -> Any:
    """What is known of the selected model: the table, else the Models API (asked once per
    model, with a short timeout; models.py's fallback when it does not answer)."""
    return model_capabilities(
        ss.cfg["model"].strip(),
        provider=ss.cfg["provider"],
        api_key=ss.cfg["api_key"],
        base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
    )


def _apply_model(model: str) -> None:
    ss.cfg["model"] = model.strip() or default_model(ss.cfg["provider"])
    settings = current_settings().with_model(ss.cfg["model"], selected_model_info())
    _set(**{n: getattr(settings, n) for n in MODEL_FIELDS})


def on_change(name: str) -> None:
    """A widget changed: take its value, apply what follows from it, save it."""
    ss.cfg[name] = ss[name]
    if name == "provider":
        _apply_model(default_model(ss[name]))
    elif name == "model":
        _apply_model(ss[name])
    if name == "system_prompt_suffix":
        _save("system prompt", lambda: save_text(SYSTEM_PROMPT_FILE, ss.cfg[name]))
    else:
        _save("settings", lambda: save_settings(current_settings()))


def _take_new_key() -> None:
    """A key was typed: use it, save it (0600), forget the typed value (never sent back)."""
    typed = str(ss.get("new_api_key") or "").strip()
    ss.new_api_key = ""
    if not typed:
        return
    ss.cfg["api_key"] = typed
    remember_secret(typed)
    _save("API key", lambda: save_text(ui_settings.API_KEY_FILE, typed))


def _clear_key() -> None:
    """Forget the key for this session and remove the saved one."""
    ss.cfg["api_key"] = ""
    _save("API key", lambda: delete_text(ui_settings.API_KEY_FILE))


def api_key_field() -> None:
    """Whether a key is set and where from, a field to replace it, a button to clear it.

    The key's value is never rendered (not even as a password field's value): whoever can
    open the page could read it from the page.
    """
    is_set = bool(ss.cfg["api_key"].strip())
    st.caption(f"Claude API key: {api_key_source(ss.cfg['api_key'])}")
    st.text_input(
        "Replace the Claude API key" if is_set else "Claude API Key",
        type="password",
        key="new_api_key",
        placeholder="sk-ant-...",
        on_change=_take_new_key,
    )
    if is_set:
        st.button("Clear the API key", key="clear_api_key", on_click=_clear_key)


def settings_sidebar() -> None:
    def kw(name: str) -> dict[str, Any]:
        return {"key": bind(name), "on_change": on_change, "args": (name,)}

    st.radio("API Provider", options=PROVIDERS, format_func=str.title, **kw("provider"))
    st.text_input("Model", **kw("model"))
    info = selected_model_info()
    st.caption(model_summary(info))
    if ss.cfg["provider"] == "anthropic":
        api_key_field()
    else:
        st.caption(cloud_credentials_source(ss.cfg["provider"]))
    st.number_input(
        "Only send N most recent images",
        min_value=0,
        step=1,
        help="To decrease the total tokens sent, remove older screenshots from the conversation",
        **kw("only_n_most_recent_images"),
    )
    st.text_area(
        "Custom System Prompt Suffix",
        help="Additional instructions appended to the system prompt (see computer_use_demo/prompts.py).",
        **kw("system_prompt_suffix"),
    )
    st.checkbox("Hide screenshots", **kw("hide_images"))
    st.checkbox("Enable token-efficient tools beta", **kw("token_efficient_tools_beta"))
    st.radio("Tool Versions", options=TOOL_VERSIONS, **kw("tool_version"))
    st.number_input("Max Output Tokens", min_value=1, step=1, **kw("max_tokens"))
    thinking_inputs(model_defaults(ss.cfg["model"], info), kw)
    budget = "The agent stops before a call that could pass it (0: no cap)."
    st.number_input(
        "Run budget ($)",
        min_value=0.0,
        step=0.1,
        format="%.3f",
        help=budget,
        **kw("max_run_cost_usd"),
    )
    st.number_input(
        "Session budget ($)",
        min_value=0.0,
        step=0.5,
        format="%.3f",
        help=budget,
        **kw("max_session_cost_usd"),
    )
    approval_settings(kw)
    st.text_input(
        "Firefox: allowed domains",
        help="Comma-separated domains Firefox may open (empty: any); applied when the desktop "
        "(re)starts, e.g. with Reset.",
        placeholder="e.g. wikipedia.org, example.com",
        **kw("firefox_allowed_domains"),
    )
    context_settings(kw)
    if ss.save_error:
        st.warning(ss.save_error)


def thinking_inputs(d: Any, kw: Callable[[str], dict[str, Any]]) -> None:
    """The thinking radio (only the modes the model supports) and its effort or budget."""
    if ss.cfg["thinking_mode"] not in d.thinking_modes:
        _set(thinking_mode=d.thinking_mode)
    if ss.cfg["thinking_effort"] not in ("", *d.effort_levels):
        _set(thinking_effort=d.thinking_effort)
    st.radio(
        "Thinking",
        options=d.thinking_modes,
        format_func=lambda mode: THINKING_LABELS.get(mode, mode),
        horizontal=True,
        help="Adaptive: Claude decides how much to think, at the effort you choose. "
        "Extended: thinks with a fixed token budget. Only the modes this model supports "
        "are offered.",
        **kw("thinking_mode"),
    )
    mode = ss.cfg["thinking_mode"]
    if mode == "adaptive" and d.effort_levels:
        default = f"model default ({d.thinking_effort})" if d.thinking_effort else "model default"
        st.selectbox(
            "Effort",
            options=("", *d.effort_levels),
            format_func=lambda effort: effort or default,
            **kw("thinking_effort"),
        )
    if mode == "extended":
        st.number_input("Thinking Budget", min_value=1024, step=1, **kw("thinking_budget"))
    if d.source == "fallback":
        st.caption("Every thinking choice is offered: the API has the last word.")


APPROVAL_LABELS = {"bash": "bash commands", "typing": "typing and keys", "click": "clicks"}


def approval_settings(kw: Callable[[str], dict[str, Any]]) -> None:
    """One choice per action class: the setup's default, or auto / ask / deny."""
    default = ApprovalPolicy.default()
    st.caption("Approvals (ask: Approve / Deny in the chat before the action runs)")
    for klass, label in APPROVAL_LABELS.items():
        st.selectbox(
            f"Approve {label}",
            options=("", *MODES),
            format_func=lambda m, k=klass: m or f"default ({default.mode(k)})",
            **kw(f"approve_{klass}"),
        )


def context_settings(kw: Callable[[str], dict[str, Any]]) -> None:
    """The API's context management on long runs (context.py), where the model has it."""
    info = models.model_info(ss.cfg["model"].strip())
    st.checkbox(
        "Let the API clear old tool results",
        help="Past the trigger, the API clears the oldest tool results from what Claude reads; "
        "the newest tool uses stay. Only the N most recent images are sent in any case.",
        **kw("context_editing"),
    )
    st.number_input(
        "Clear past (prompt tokens)",
        min_value=1_000,
        step=10_000,
        disabled=not ss.cfg["context_editing"],
        **kw("context_edit_trigger_tokens"),
    )
    st.checkbox(
        "Let the API compact the conversation",
        help="Past the trigger, the API summarizes the conversation and goes on from there.",
        **kw("compaction"),
    )
    st.number_input(
        "Compact past (prompt tokens)",
        min_value=50_000,
        step=10_000,
        disabled=not ss.cfg["compaction"],
        **kw("compaction_trigger_tokens"),
    )
    missing = [
        name
        for name, wanted, has in (
            ("clearing", ss.cfg["context_editing"], info.context_management),
            ("compaction", ss.cfg["compaction"], info.compaction),
        )
        if wanted and not has
    ]
    if missing:
        st.caption(f"This model does not support {' or '.join(missing)}: it stays off.")


def secrets() -> list[str]:
    """Values never to show, wherever they turn up (``redaction.known_secrets``)."""
    remember_secret(ss.cfg["api_key"])
    return list(known_secrets())


def check_auth() -> str | None:
    """The provider's auth problem, checked once per provider/key (credential lookups are slow)."""
    key = (ss.cfg["provider"], ss.cfg["api_key"].strip())
    cached = ss.get("auth")
    if cached is None or cached[0] != key:
        cached = (key, auth_error(*key))
        ss.auth = cached
    return cached[1]


# ---- sessions -------------------------------------------------------------------------------


def open_session(session_id: str) -> Trajectory | None:
    """The saved session with this id, or None if there is none (or the id is not one)."""
    if not SESSION_ID.match(session_id):
        return None
    path = sessions_dir() / session_id
    if not path.is_dir():
        return None
    try:
        return Trajectory.open(path)
    except Exception:
        return None


def current_session() -> Trajectory | None:
    """The session this tab shows: chosen here, named in the URL, else the newest one."""
    if ss.get("new_session"):
        return None
    trajectory = ss.get("trajectory")
    if trajectory is not None:
        return trajectory
    wanted = st.query_params.get("session")
    if wanted == "new":
        ss.new_session = True
        return None
    if wanted:
        trajectory = open_session(wanted)
    if trajectory is None:
        newest = ui_runner.session_list(sessions_dir())
        trajectory = open_session(newest[0].id) if newest else None
    if trajectory is not None:
        select_session(trajectory)
    return trajectory


def select_session(trajectory: Trajectory | None) -> None:
    ss.trajectory = trajectory
    ss.new_session = trajectory is None
    ss.pop("http_page", None)
    st.query_params["session"] = trajectory.id if trajectory is not None else "new"


def open_by_id(session_id: str) -> None:
    select_session(open_session(session_id))


def start_new_session() -> None:
    select_session(None)


def session_label(trajectory: Trajectory | TrajectoryInfo) -> str:
    title = (trajectory.title or "").strip().splitlines()
    text = title[0] if title else "(untitled)"
    return text if len(text) <= 40 else text[:37] + "..."


def sessions_sidebar(current: Trajectory | None) -> None:
    st.subheader("Sessions")
    st.button(
        "New session",
        icon=":material/add:",
        key="new_session_button",
        on_click=start_new_session,
        **STRETCH,
    )
    for info in ui_runner.session_list(sessions_dir())[:SESSIONS_SHOWN]:
        is_current = current is not None and info.id == current.id
        running = ui_runner.active_run(info.id) is not None or (
            live.running_elsewhere(info.path) is not None
        )
        st.button(
            ("▶ " if running else "") + session_label(info),
            key=f"session_{info.id}",
            help=f"{info.steps} step(s), last update {info.updated:%Y-%m-%d %H:%M} UTC",
            type="primary" if is_current else "tertiary",
            disabled=is_current,
            on_click=open_by_id,
            args=(info.id,),
            **STRETCH,
        )
    if current is not None:
        trajectory = current

        def replay() -> str:
            title = trajectory.title.strip() or "Computer Use Demo session"
            return render_html(trajectory.events(), title=title)  # screenshots inlined

        st.download_button(
            "Download HTML replay",
            data=replay if LAZY_DOWNLOADS else replay(),
            file_name=f"session-{trajectory.id}.html",
            mime="text/html",
            icon=":material/download:",
            key="download_replay",
            **NO_RERUN,
            **STRETCH,
        )


def session_events(trajectory: Trajectory | None) -> tuple[int, list[Event]]:
    """(version, events) of a session: live from its run, else from disk (cached)."""
    if trajectory is None:
        return 0, []
    run = ui_runner.current_run(trajectory)
    if run is not None:
        return run.snapshot()
    return 0, ui_runner.session_events(trajectory)


# ---- reset ----------------------------------------------------------------------------------


def image_dir() -> Path:
    return Path(os.environ.get("IMAGE_DIR") or Path(__file__).resolve().parent.parent / "image")


def desktop_commands() -> list[tuple[str, list[str]]]:
    """How to stop and start the desktop: its scripts, or, when it runs as a user of its own
    (``DESKTOP_USER``, set by the entrypoint), image/desktop_ctl.sh as root (through sudo for
    the agent's user, which the image's sudoers allows for that script alone)."""
    user = os.environ.get("DESKTOP_USER")
    if not user or user == getpass.getuser():
        return [
            (s, ["bash", str(image_dir() / s)]) for s in ("stop_desktop.sh", "start_desktop.sh")
        ]
    ctl = str(image_dir() / "desktop_ctl.sh")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    return [("desktop_ctl.sh", [*sudo, ctl, "restart", os.environ.get("DISPLAY_NUM", "1")])]


def restart_desktop() -> str | None:
    """Stop all of the desktop and start it again; the error to show, if any."""
    env = {k: v for k, v in os.environ.items() if k != "COMPUTER_USE_WEBAPP"}
    for script, argv in desktop_commands():
        path = image_dir() / script
        if not path.is_file():
            return f"{path} is missing: the desktop was not restarted."
        code, out, err = asyncio.run(run_command(argv, timeout=120, env=env))
        if code != 0:
            tail = "\n".join((err or out).strip().splitlines()[-15:])
            return f"{script} failed (exit {code}):\n\n```\n{tail}\n```"
    return None


def reset() -> None:
    with st.spinner("Resetting the desktop..."):
        ui_runner.stop_all()
        ss.reset_error = restart_desktop()
    start_new_session()


# ---- the page -------------------------------------------------------------------------------


def send(
    text: str, trajectory: Trajectory | None, *, stop_others: bool = False
) -> Trajectory | None:
    """Send ``text`` in the session (a new one if None). While another session's agent uses
    the desktop, the message waits in ``ss.pending_send`` and the page asks first."""
    settings = current_settings()
    if problem := settings_problem(settings):
        st.error(problem)
        return trajectory
    session_id = trajectory.id if trajectory is not None else None
    if not stop_others and ui_runner.runs_elsewhere(session_id):
        ss.pending_send = {"text": text, "session": session_id}
        return trajectory
    if trajectory is None:
        try:
            trajectory = Trajectory.create(sessions_dir(), title=text.strip()[:200])
        except OSError as e:
            st.error(f"Could not create the session folder {sessions_dir()}: {e}")
            return None
        select_session(trajectory)
    try:
        ui_runner.send_message(trajectory, loop_config(settings), text, stop_others=stop_others)
    except ui_runner.OtherSessionRunning:  # started meanwhile, in another tab
        ss.pending_send = {"text": text, "session": trajectory.id}
    except DesktopBusy as e:  # an agent of another process (the CLI) has the desktop
        st.error(f"Could not send the message: {e}")
    except Exception as e:  # a bad setting or a stuck run: say so, keep the session
        st.error(f"Could not send the message: {type(e).__name__}: {e}")
    return trajectory


def pending_send(trajectory: Trajectory | None) -> Trajectory | None:
    """One agent per desktop: ask before stopping another session's agent for a message."""
    pending = ss.get("pending_send")
    if not pending:
        return trajectory
    target = open_session(pending["session"]) if pending["session"] else None
    busy = ui_runner.runs_elsewhere(pending["session"])
    if not busy:  # it finished meanwhile: nothing to stop
        ss.pending_send = None
        return send(pending["text"], target)
    st.warning(
        f"Claude is still working in another session ({session_label(busy[0].trajectory)}). "
        "One agent at a time can use the desktop: stop it to send your message?\n\n"
        f"> {pending['text'][:300]}",
        icon=":material/desktop_windows:",
    )
    left, right = st.columns(2)
    if left.button("Stop it and send", key="stop_other_and_send", type="primary"):
        ss.pending_send = None
        return send(pending["text"], target, stop_others=True)
    if right.button("Keep it running", key="keep_other_running"):
        ss.pending_send = None
        st.rerun()
    return trajectory


@st.fragment(run_every=POLL_SECONDS)
def watch_run(session_id: str, version: int, paused: bool) -> None:
    """Rerun the page when the running agent reports something new (or the desktop changed
    hands, from here or the combined page's toggle); meanwhile show the answer streaming in
    (only this fragment reruns for that)."""
    run = ui_runner.get_run(session_id)
    if run is None or run.version != version or not run.running:
        st.rerun(scope="app")
    if ui_runner.desktop_gate().paused != paused:
        st.rerun(scope="app")
    render_live(run.live()[1])


@st.fragment(run_every=POLL_SECONDS)
def watch_elsewhere(trajectory: Trajectory, stamp: tuple) -> None:
    """Rerun the page when a run of another process (the task API, MCP) saves an event in
    this session, or ends; the page shows what it saved."""
    if (
        ui_runner.session_stamp(trajectory) != stamp
        or live.running_elsewhere(trajectory.path) is None
    ):
        st.rerun(scope="app")


def progress_elsewhere(trajectory: Trajectory, runner_note: dict, events: list[Event]) -> None:
    """A run of another process works in this session: where it is, Stop, its approval."""
    owner = runner_note.get("owner") or "another process"
    with st.container(key="progress"):  # in view like the bar of this app's own runs
        left, right = st.columns([5, 1], vertical_alignment="center")
    with left:
        run_events = events[max((i for i, e in enumerate(events) if e.kind == "user"), default=0) :]
        st.info(
            f"{progress_text(run_events)} · started by the {owner}",
            icon=":material/progress_activity:",
        )
    with right:
        st.button(
            "Stop",
            key="stop_agent",
            type="primary",
            on_click=live.request_stop,
            **STRETCH,
            args=(trajectory.path,),
        )
    answered = {e.id for e in events if isinstance(e, ApprovalAnswered)}
    asked = [e for e in events if isinstance(e, ApprovalAsked) and e.id not in answered]
    if asked:
        approval_box(
            asked[-1],
            lambda approval_id, ok: live.send_answer(trajectory.path, approval_id, ok),
        )


@st.fragment(run_every=PROGRESS_SECONDS)
def progress(session_id: str) -> None:
    """What the agent does now, Take control and Stop: a bar that stays in view however long
    the conversation (STREAMLIT_STYLE), redrawn every second (a retry's countdown)."""
    run = ui_runner.active_run(session_id)
    if run is None:
        return  # it ended: watch_run reruns the page
    with st.container(key="progress"):
        progress_bar(run)


def progress_bar(run: ui_runner.SessionRun) -> None:
    left, middle, right = st.columns([4, 1.3, 1], vertical_alignment="center")
    with left:
        st.info(progress_text(run.run_events()), icon=":material/progress_activity:")
    with middle:
        if not ui_runner.desktop_gate().paused:
            st.button(
                "Take control",
                key="take_control",
                help="Claude pauses after the running action; the desktop is yours",
                on_click=ui_runner.desktop_gate().take,
                **STRETCH,
            )
    with right:
        if st.button("Stop", key="stop_agent", type="primary", **STRETCH):
            run.stop()
            st.rerun()


def approval_box(asked: ApprovalAsked, answer: Callable[[str, bool], object]) -> None:
    """The action waiting for the person: exactly what it is, and Approve / Deny."""
    shown = redact_event(asked)  # a known secret in the command is not shown
    assert isinstance(shown, ApprovalAsked)
    with st.container(border=True, key="approval"):
        st.markdown("**Claude wants to run:**")
        st.code(shown.description, language=None, wrap_lines=True)
        if shown.image:
            data = image_bytes(shown.image)
            if data is not None:
                st.image(data, caption="where it would click (the red ring)")
        left, right = st.columns(2)
        left.button(
            "Approve", key="approve", type="primary", on_click=answer, args=(asked.id, True)
        )
        right.button("Deny", key="deny", on_click=answer, args=(asked.id, False))


def person_in_control() -> None:
    """While the person holds the desktop: say so, and offer to hand it back."""
    left, right = st.columns([4, 1.5], vertical_alignment="center")
    with left:
        st.warning(
            "You have control of the desktop. Claude is paused and waits until you hand it "
            "back; then it gets a fresh screenshot.",
            icon=":material/front_hand:",
        )
    with right:
        st.button(
            "Hand back",
            key="hand_back",
            type="primary",
            on_click=ui_runner.desktop_gate().hand_back,
            **STRETCH,
        )


def main() -> None:
    st.set_page_config(page_title="Computer Use Demo", page_icon="🤖")
    setup_state()
    st.markdown(STREAMLIT_STYLE, unsafe_allow_html=True)
    st.title(TITLE)
    if not os.getenv("HIDE_WARNING"):
        st.warning(WARNING_TEXT)

    with st.sidebar:
        settings_sidebar()
        if st.button("Reset", type="primary", key="reset"):
            reset()
        if ss.get("reset_error"):
            st.error(ss.reset_error)

    if problem := check_auth():
        st.warning(f"Please resolve the following auth issue:\n\n{problem}")
        return

    trajectory = current_session()
    new_message = st.chat_input(CHAT_PLACEHOLDER)
    if new_message and new_message.strip():
        trajectory = send(new_message, trajectory)
    trajectory = pending_send(trajectory)

    with st.sidebar:
        sessions_sidebar(trajectory)

    version, events = session_events(trajectory)
    run = ui_runner.active_run(trajectory.id) if trajectory is not None else None
    elsewhere = (
        live.running_elsewhere(trajectory.path) if trajectory is not None and run is None else None
    )
    stamp: tuple = ()
    if elsewhere is not None and trajectory is not None:
        stamp = ui_runner.session_stamp(trajectory)
    totals = usage_totals(events)
    if totals.responses or ss.cfg["max_run_cost_usd"] or ss.cfg["max_session_cost_usd"]:
        line = usage_line(
            totals,
            run_cap=ss.cfg["max_run_cost_usd"] or None,
            session_cap=ss.cfg["max_session_cost_usd"] or None,
        )
        st.caption(dollars(line))
    paused = ui_runner.desktop_gate().paused
    if paused:
        person_in_control()
    if elsewhere is not None and trajectory is not None:
        progress_elsewhere(trajectory, elsewhere, events)
    if run is not None and trajectory is not None:
        progress(trajectory.id)
        if (asked := run.pending_approval()) is not None:
            approval_box(asked, run.answer)

    chat, http_logs = st.tabs(["Chat", "HTTP Exchange Logs"])
    with chat:
        if not events:
            st.caption("Type a task below; Claude will use the desktop to do it.")
        render_chat(events, hide_images=ss.cfg["hide_images"])
        if run is not None and trajectory is not None:
            watch_run(trajectory.id, version, paused)
        elif elsewhere is not None and trajectory is not None:
            watch_elsewhere(trajectory, stamp)
    with http_logs:
        render_exchanges(events, secrets())


if __name__ == "__main__":  # `streamlit run` and AppTest run this file as __main__
    main()
