"""The chat app's settings: where they live on disk, how they load, and the auth check.

Kept apart from streamlit.py so that it can be tested without a browser. Everything lives in
the config directory (``$CONFIG_DIR``, else ``~/.anthropic``): ``api_key`` and
``system_prompt`` as in the reference (so its volume mount keeps working), the other sidebar
choices in ``settings.json``. Every file is written atomically with mode 0600: the key is a
secret, and a crash mid-write must not leave half a file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from ..agent import model_lookup, models, private_files
from ..agent.context import MIN_COMPACTION_TRIGGER
from ..agent.loop import APIProvider, LoopConfig
from ..agent.providers import VERTEX_ACCESS_TOKEN_ENV
from ..agent.thinking import THINKING_EFFORTS, THINKING_MODES
from ..tools.approval_policy import MODES, ApprovalPolicy
from ..tools.groups import TOOL_VERSIONS

API_KEY_FILE = "api_key"
SYSTEM_PROMPT_FILE = "system_prompt"
SETTINGS_FILE = "settings.json"
PROVIDERS: tuple[str, ...] = ("anthropic", "bedrock", "vertex")


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    """``$CONFIG_DIR`` if set (tests, several instances), else ``$HOME/.anthropic``."""
    env = os.environ if env is None else env
    if env.get("CONFIG_DIR"):
        return Path(env["CONFIG_DIR"]).expanduser()
    home = env.get("HOME") or str(Path.home())
    return Path(home) / ".anthropic"


def sessions_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where saved sessions (trajectories) live."""
    return config_dir(env) / "sessions"


def load_text(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The stripped content of a config file, or None if it is missing, empty or unreadable."""
    try:
        data = (config_dir(env) / name).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return data or None


def save_text(name: str, data: str, env: Mapping[str, str] | None = None) -> None:
    """Write a config file atomically, readable by its owner only (0600). Raises OSError."""
    directory = config_dir(env)
    private_files.private_dir(directory)
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, directory / name)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@dataclass(frozen=True, kw_only=True)
class ModelDefaults:
    """What changing the model resets: tool version, output tokens, thinking; and which
    thinking modes and effort levels the sidebar offers for it."""

    tool_version: str
    max_tokens: int
    max_output_tokens: int
    has_thinking: bool
    thinking_mode: str
    thinking_effort: str  # "" : the model's default effort
    thinking_budget: int
    thinking_modes: tuple[str, ...]
    effort_levels: tuple[str, ...]
    #: table, models_api, or fallback (nothing known: every choice offered, the API decides)
    source: str


def default_model(provider: str) -> str:
    """The model a provider starts with."""
    return models.DEFAULT_MODELS.get(provider, models.DEFAULT_MODELS["anthropic"])


def model_capabilities(
    model: str, *, provider: str = "anthropic", api_key: str = "", base_url: str | None = None
) -> models.ModelInfo:
    """What is known of ``model``: the table, else the Models API (cached; a short call)."""
    return model_lookup.resolve_sync(model, provider=provider, api_key=api_key, base_url=base_url)


def model_defaults(model: str, info: models.ModelInfo | None = None) -> ModelDefaults:
    """The defaults of ``model`` from ``info`` (default: the model table; unknown models get a
    safe fallback that offers every thinking choice)."""
    info = info or models.model_info(model)
    unknown = info.source == "fallback"
    modes = sidebar_thinking_modes(info)
    return ModelDefaults(
        tool_version=info.tool_version,
        max_tokens=info.default_output_tokens,
        max_output_tokens=info.max_output_tokens,
        has_thinking=info.has_thinking,
        thinking_mode=modes[0],
        thinking_effort=info.default_effort or "",
        thinking_budget=max(1024, info.default_output_tokens // 2),
        thinking_modes=modes,
        effort_levels=THINKING_EFFORTS if unknown else info.effort_levels,
        source=info.source,
    )


def sidebar_thinking_modes(info: models.ModelInfo) -> tuple[str, ...]:
    """The thinking modes the sidebar offers for a model, its default first (the reference's
    order): "off" first for a model nobody knows (then every mode) and for models with extended
    thinking; "adaptive" first for models made for it (adaptive but no budget), which the
    table lists "off" first only because the API does not think unasked."""
    if info.source == "fallback":
        return ("off", *(m for m in THINKING_MODES if m != "off"))
    modes = info.thinking_modes
    if "adaptive" in modes and "extended" not in modes:
        return ("adaptive", *(m for m in modes if m != "adaptive"))
    return modes


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Every sidebar choice; read once per run into a LoopConfig."""

    provider: str = "anthropic"
    model: str = ""
    api_key: str = ""
    only_n_most_recent_images: int = 3
    system_prompt_suffix: str = ""
    hide_images: bool = False
    token_efficient_tools_beta: bool = False
    tool_version: str = "computer_use_20250124"
    max_tokens: int = 16384
    thinking_mode: str = "off"  # adaptive, extended or off (thinking.py)
    thinking_effort: str = ""  # adaptive's effort; "": the model's default
    thinking_budget: int = 8192
    #: Dollar caps (0: none): per run (one message's work) and for the whole session.
    max_run_cost_usd: float = 0.0
    max_session_cost_usd: float = 0.0
    #: Approval per action class: auto, ask, deny; "" is this setup's default (ask before
    #: bash and typing unless loopback-only: tools/approval_policy.py).
    approve_bash: str = ""
    approve_typing: str = ""
    approve_click: str = ""
    #: Domains Firefox may open (comma or space separated; empty: any). Written into
    #: Firefox's enterprise policy when the desktop starts (firefox_policy.py).
    firefox_allowed_domains: str = ""
    #: The API's context management on long runs, where the model supports it (context.py).
    context_editing: bool = True
    context_edit_trigger_tokens: int = 100_000
    compaction: bool = True
    compaction_trigger_tokens: int = 150_000

    def approval_policy(self) -> ApprovalPolicy:
        """The approval policy these settings choose (defaults filled in for this setup)."""
        return ApprovalPolicy.default().with_modes(
            bash=self.approve_bash, typing=self.approve_typing, click=self.approve_click
        )

    def with_model(self, model: str, info: models.ModelInfo | None = None) -> Settings:
        """These settings with ``model`` and that model's defaults (the reference's rule)."""
        d = model_defaults(model, info)
        return replace(
            self,
            model=model,
            tool_version=d.tool_version,
            max_tokens=d.max_tokens,
            thinking_mode=d.thinking_mode,
            thinking_effort=d.thinking_effort,
            thinking_budget=min(d.thinking_budget, d.max_tokens - 1),
        )


#: Fields stored in settings.json (the key and the prompt have files of their own).
JSON_FIELDS = tuple(
    f.name for f in fields(Settings) if f.name not in ("api_key", "system_prompt_suffix")
)


def _coerce(name: str, value: Any, default: Any) -> Any:
    """``value`` if it has the field's type and a valid value, else ``default``."""
    if isinstance(default, bool):
        return value if isinstance(value, bool) else default
    if isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0
        return float(value) if ok else default
    if isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return value if ok else default
    if name == "provider":
        return value if value in PROVIDERS else default
    if name.startswith("approve_"):
        return value if value in MODES else default
    if name == "firefox_allowed_domains":
        return value if isinstance(value, str) else default
    if name == "tool_version":
        return value if value in TOOL_VERSIONS else default
    if name == "thinking_mode":
        return value if value in THINKING_MODES else default
    if name == "thinking_effort":
        return value if value in ("", *THINKING_EFFORTS) else default
    return value if isinstance(value, str) and value else default


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Saved settings, falling back to the environment, then to the model's defaults.

    A damaged settings.json is ignored field by field: a bad value never stops the app.
    """
    env = os.environ if env is None else env
    provider = env.get("API_PROVIDER", "anthropic")
    if provider not in PROVIDERS:
        provider = "anthropic"
    saved: dict[str, Any] = {}
    raw = load_text(SETTINGS_FILE, env)
    if raw:
        with contextlib.suppress(ValueError):
            loaded = json.loads(raw)
            saved = loaded if isinstance(loaded, dict) else {}
    provider = _coerce("provider", saved.get("provider"), provider)
    model = saved.get("model")
    if not isinstance(model, str) or not model.strip():
        model = default_model(provider)
    base = Settings(provider=provider).with_model(model)
    if saved.get("thinking") is True and "thinking_mode" not in saved:  # settings of old
        saved["thinking_mode"] = "extended"
    values = {
        name: _coerce(name, saved[name], getattr(base, name))
        for name in JSON_FIELDS
        if name in saved and name not in ("provider", "model")
    }
    return replace(
        base,
        **values,
        api_key=load_text(API_KEY_FILE, env) or env.get("ANTHROPIC_API_KEY", ""),
        system_prompt_suffix=load_text(SYSTEM_PROMPT_FILE, env) or "",
    )


def save_settings(settings: Settings, env: Mapping[str, str] | None = None) -> None:
    """Persist the sidebar choices (not the key nor the prompt: see save_text)."""
    data = {k: v for k, v in asdict(settings).items() if k in JSON_FIELDS}
    save_text(SETTINGS_FILE, json.dumps(data, indent=2, sort_keys=True) + "\n", env)


def delete_text(name: str, env: Mapping[str, str] | None = None) -> None:
    """Remove a config file (missing is fine). Raises OSError."""
    with contextlib.suppress(FileNotFoundError):
        (config_dir(env) / name).unlink()


def api_key_source(api_key: str, env: Mapping[str, str] | None = None) -> str:
    """Where the key in use comes from, said without its value (the sidebar shows this
    instead of the key: a value sent to the browser is readable by anyone who opens the page)."""
    env = os.environ if env is None else env
    key = api_key.strip()
    if not key:
        return "not set"
    if load_text(API_KEY_FILE, env) == key:
        return f"set, saved in {config_dir(env) / API_KEY_FILE}"
    if env.get("ANTHROPIC_API_KEY", "").strip() == key:
        return "set, from the environment (ANTHROPIC_API_KEY)"
    return "set for this session only (it could not be saved)"


def cloud_credentials_source(provider: str, env: Mapping[str, str] | None = None) -> str:
    """Where Bedrock's or Vertex's credentials would come from, without any value."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or str(Path.home()))
    if provider == "bedrock":
        if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
            names = "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"
            if env.get("AWS_SESSION_TOKEN"):
                names += ", AWS_SESSION_TOKEN"
            return f"AWS credentials: from the environment ({names})"
        if env.get("AWS_PROFILE"):
            return f"AWS credentials: profile {env['AWS_PROFILE']} (AWS_PROFILE)"
        shared = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
        if shared.is_file():
            return f"AWS credentials: from {shared}"
        return "AWS credentials: not found here (an instance role may still provide them)"
    if provider == "vertex":
        if env.get(VERTEX_ACCESS_TOKEN_ENV):
            return f"Google credentials: an access token from the environment ({VERTEX_ACCESS_TOKEN_ENV})"
        if env.get("GOOGLE_APPLICATION_CREDENTIALS"):
            return (
                f"Google credentials: from {env['GOOGLE_APPLICATION_CREDENTIALS']} "
                "(GOOGLE_APPLICATION_CREDENTIALS)"
            )
        adc = Path(env.get("CLOUDSDK_CONFIG") or home / ".config" / "gcloud")
        if (adc / "application_default_credentials.json").is_file():
            return "Google credentials: gcloud's application default credentials"
        return "Google credentials: not found here (a metadata server may still provide them)"
    return ""


def auth_error(provider: str, api_key: str, env: Mapping[str, str] | None = None) -> str | None:
    """Why this provider cannot be used yet, as a sentence for the user; None when it can."""
    env = os.environ if env is None else env
    if provider == "anthropic":
        if not api_key.strip():
            return "Enter your Claude API key in the sidebar to continue."
        return None
    if provider == "bedrock":
        try:
            import boto3
        except ImportError:
            return "Install boto3 (pip install 'anthropic[bedrock]') to use the Bedrock API."
        try:
            session = boto3.Session()
            credentials = session.get_credentials()
        except Exception as e:  # a broken ~/.aws/config raises its own errors
            return f"Your AWS configuration could not be read: {e}"
        if not credentials:
            return (
                "You must have AWS credentials set up to use the Bedrock API "
                "(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or ~/.aws/credentials)."
            )
        if not (env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or session.region_name):
            return "Set the AWS_REGION environment variable to use the Bedrock API."
        return None
    if provider == "vertex":
        if not env.get("CLOUD_ML_REGION"):
            return "Set the CLOUD_ML_REGION environment variable to use the Vertex API."
        if env.get(VERTEX_ACCESS_TOKEN_ENV):
            return None  # a token given outright: no Google credentials to look up
        try:
            import google.auth
            from google.auth.exceptions import DefaultCredentialsError
        except ImportError:
            return "Install google-auth (pip install 'anthropic[vertex]') to use the Vertex API."
        try:
            google.auth.default(scopes=["https://www.googleapis.com/auth/cloud-platform"])
        except DefaultCredentialsError:
            return (
                "Your Google Cloud credentials are not set up correctly "
                "(run `gcloud auth application-default login` or set "
                "GOOGLE_APPLICATION_CREDENTIALS)."
            )
        except Exception as e:
            return f"Your Google Cloud credentials could not be loaded: {e}"
        return None
    return f"Unknown API provider {provider!r}: choose anthropic, bedrock or vertex."


def loop_config(settings: Settings) -> LoopConfig:
    """The settings, read once, as the loop's configuration (the chat and the task API
    start runs the same way)."""
    extended = settings.thinking_mode == "extended"
    adaptive = settings.thinking_mode == "adaptive"
    info = model_capabilities(
        settings.model.strip(),
        provider=settings.provider,
        api_key=settings.api_key,
        base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
    )
    return LoopConfig(
        model=settings.model.strip(),
        provider=APIProvider(settings.provider),
        api_key=settings.api_key.strip() or None,
        base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
        tool_version=settings.tool_version,
        system_prompt_suffix=settings.system_prompt_suffix,
        max_tokens=int(settings.max_tokens),
        thinking_mode=settings.thinking_mode,  # type: ignore[arg-type]
        thinking_effort=(settings.thinking_effort or None) if adaptive else None,  # type: ignore[arg-type]
        thinking_budget=int(settings.thinking_budget) if extended else None,
        capabilities=info if info.source == "models_api" else None,
        only_n_most_recent_images=int(settings.only_n_most_recent_images),
        token_efficient_tools_beta=settings.token_efficient_tools_beta,
        max_run_cost_usd=settings.max_run_cost_usd or None,
        max_session_cost_usd=settings.max_session_cost_usd or None,
        approval=settings.approval_policy(),
        # On: where the model supports it (None); off: never.
        context_editing=None if settings.context_editing else False,
        context_edit_trigger_tokens=max(1, int(settings.context_edit_trigger_tokens)),
        compaction=None if settings.compaction else False,
        compaction_trigger_tokens=max(
            MIN_COMPACTION_TRIGGER, int(settings.compaction_trigger_tokens)
        ),
    )


def settings_problem(settings: Settings) -> str | None:
    """A setting the API would refuse, said before anything is sent."""
    if not settings.model.strip():
        return "Enter a model name in the sidebar."
    if settings.thinking_mode == "extended" and settings.thinking_budget >= settings.max_tokens:
        return "The thinking budget must be smaller than the max output tokens."
    return None
