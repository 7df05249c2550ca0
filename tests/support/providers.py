"""Bedrock and Vertex runs against the fake API: the real SDK clients, built by the loop from
the environment as a user's would be, with fake credentials and no network but 127.0.0.1."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from computer_use_demo.agent.providers import VERTEX_ACCESS_TOKEN_ENV
from tests.fake_api import DEFAULT_AWS, DEFAULT_VERTEX_TOKEN, FakeAnthropicAPI

VERTEX_PROJECT = "fake-project-1"
VERTEX_REGION = "us-east5"

#: Settings that could make a client look elsewhere for credentials or a host.
_CLEARED = (
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "ANTHROPIC_CUSTOM_HEADERS",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_BEARER_TOKEN_BEDROCK",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@dataclass(frozen=True)
class ProviderRun:
    """How a test talks to the fake API as one provider."""

    name: str  # bedrock | vertex
    model: str  # the provider's model id, as the user types it
    path: str  # the URL path the provider's client must post to (a plain request)

    @property
    def streams(self) -> bool:
        """Whether the loop streams through this provider (Vertex's streamRawPredict; Bedrock's
        event-stream framing is not served)."""
        return self.name == "vertex"

    @property
    def loop_path(self) -> str:
        """The path the loop posts to (streaming by default)."""
        return self.path.replace(":rawPredict", ":streamRawPredict") if self.streams else self.path

    @property
    def secrets(self) -> tuple[str, ...]:
        """Credentials that must never reach an event."""
        if self.name == "bedrock":
            return (DEFAULT_AWS.secret_key, DEFAULT_AWS.access_key)
        return (DEFAULT_VERTEX_TOKEN,)


BEDROCK = ProviderRun(
    name="bedrock",
    model="anthropic.claude-sonnet-4-5-20250929-v1:0",
    path="/model/anthropic.claude-sonnet-4-5-20250929-v1:0/invoke",
)
VERTEX = ProviderRun(
    name="vertex",
    model="claude-sonnet-4-5@20250929",
    path=(
        f"/v1/projects/{VERTEX_PROJECT}/locations/{VERTEX_REGION}/publishers/anthropic/models/"
        "claude-sonnet-4-5@20250929:rawPredict"
    ),
)


def offline_provider_env(monkeypatch: pytest.MonkeyPatch, api: FakeAnthropicAPI, home: str) -> None:
    """Point both providers' clients at ``api`` through their own environment variables, with
    static fake credentials, and turn off every metadata-server lookup (EC2, GCE)."""
    for name in _CLEARED:
        monkeypatch.delenv(name, raising=False)
    env = {
        "HOME": home,  # no ~/.aws, no ~/.config/gcloud of the machine
        "NO_PROXY": "127.0.0.1,localhost",
        "AWS_CONFIG_FILE": f"{home}/no-aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": f"{home}/no-aws-credentials",
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ACCESS_KEY_ID": DEFAULT_AWS.access_key,
        "AWS_SECRET_ACCESS_KEY": DEFAULT_AWS.secret_key,
        "AWS_REGION": DEFAULT_AWS.region,
        "ANTHROPIC_BEDROCK_BASE_URL": api.url,
        "NO_GCE_CHECK": "true",  # google-auth compares with "true", read at import
        "GCE_METADATA_HOST": "127.0.0.1:9",  # refused at once, were it ever asked
        "GCE_METADATA_IP": "127.0.0.1:9",
        "CLOUD_ML_REGION": VERTEX_REGION,
        "ANTHROPIC_VERTEX_PROJECT_ID": VERTEX_PROJECT,
        "ANTHROPIC_VERTEX_BASE_URL": f"{api.url}/v1",
        VERTEX_ACCESS_TOKEN_ENV: DEFAULT_VERTEX_TOKEN,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
