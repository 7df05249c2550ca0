"""The Bedrock and Vertex paths of the loop: the real loop builds the real SDK client from the
environment (fake static credentials), and the fake API checks each request as that provider
would (URL, body, where the betas go, signature or token) besides the Messages API's rules."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from computer_use_demo.agent.events import ApiExchange, ErrorEvent, ToolResultEvent, to_json
from computer_use_demo.agent.loop import PROMPT_CACHING_BETA_FLAG, LoopConfig
from computer_use_demo.agent.providers import VERTEX_ACCESS_TOKEN_ENV
from tests.fake_api import (
    DEFAULT_AWS,
    DEFAULT_VERTEX_TOKEN,
    AwsCredentials,
    FakeAnthropicAPI,
    bedrock_error,
    error,
    message,
    text,
    thinking,
    tool_use,
)
from tests.fake_api.validate import count_cache_control
from tests.support.loop import collect, done, of, user, weather_tool
from tests.support.providers import BEDROCK, VERTEX, ProviderRun, offline_provider_env

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

COMPUTER_BETA = "computer-use-2025-01-24"
#: A tool that needs COMPUTER_BETA (bash and the text editor are generally available).
COMPUTER = {
    "type": "computer_20250124",
    "name": "computer",
    "display_width_px": 1024,
    "display_height_px": 768,
}


@pytest.fixture(name="api")
def api_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[FakeAnthropicAPI]:
    """The fake API, with both providers' clients pointed at it through their environment."""
    with FakeAnthropicAPI() as api:
        offline_provider_env(monkeypatch, api, str(tmp_path))
        yield api


@pytest.fixture(name="provider", params=[BEDROCK, VERTEX], ids=lambda p: p.name)
def provider_fixture(request: pytest.FixtureRequest) -> ProviderRun:
    return request.param


def provider_config(provider: ProviderRun, **overrides: Any) -> LoopConfig:
    """A config as a user of that provider writes it: no key, no base URL (the environment's)."""
    values: dict[str, Any] = {
        "model": provider.model,
        "provider": provider.name,
        "max_retries": 2,
        "request_timeout": 20.0,
    }
    values.update(overrides)
    return LoopConfig(**values)


def results_of(record: Any) -> dict[str, str]:
    """tool_use_id -> text of the tool_results in the last message of a recorded request."""
    out = {}
    for block in record.body["messages"][-1]["content"]:
        if block["type"] == "tool_result":
            content = block["content"]
            out[block["tool_use_id"]] = (
                content if isinstance(content, str) else "".join(b.get("text", "") for b in content)
            )
    return out


def betas_sent(provider: ProviderRun, record: Any) -> list[str]:
    """The betas the provider reads: Bedrock only the body's list, Vertex the header."""
    if provider.name == "bedrock":
        return record.body.get("anthropic_beta", [])
    return [b for b in record.headers.get("anthropic-beta", "").split(",") if b]


# ---------------------------------------------------------------- the loop on each provider


async def test_a_two_step_run_with_bash_and_a_custom_tool(
    api: FakeAnthropicAPI, provider: ProviderRun
) -> None:
    calls: list[dict[str, Any]] = []
    api.push(
        message(
            text("Looking."),
            tool_use("bash", {"command": "echo hello-from-$((40+2))"}, id="toolu_bash"),
            tool_use("get_weather", {"location": "Phoenix, AZ"}, id="toolu_weather"),
        ),
        message(text("38 degrees, and bash says 42.")),
    )
    cfg = provider_config(provider, extra_tools=(weather_tool(calls),))
    events = await collect(cfg, user("weather and bash"))

    final = done(events)
    assert (final.reason, final.steps) == ("end_turn", 2)
    assert not api.invalid_requests, api.invalid_requests[0].error
    assert calls == [{"location": "Phoenix, AZ", "unit": "celsius"}]
    first, second = api.requests
    for record in (first, second):
        assert (record.provider, record.path, record.model) == (
            provider.name,
            provider.loop_path,
            provider.model,
        )
        assert "model" not in record.body and record.body.get("stream", False) is provider.streams
        assert record.streamed is provider.streams
        assert isinstance(record.body["anthropic_version"], str)
        assert betas_sent(provider, record) == [COMPUTER_BETA]
        assert PROMPT_CACHING_BETA_FLAG not in json.dumps(record.headers)
        assert PROMPT_CACHING_BETA_FLAG not in json.dumps(record.body)
        assert count_cache_control(record.body) == 0, "caching is the Anthropic provider's"
    if provider.name == "bedrock":
        assert first.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=")
        assert f"/{DEFAULT_AWS.region}/bedrock/aws4_request" in first.headers["authorization"]
    else:
        assert first.headers["authorization"] == f"Bearer {DEFAULT_VERTEX_TOKEN}"
        assert (first.project, first.region) == ("fake-project-1", "us-east5")
        assert "anthropic_beta" not in first.body
    kinds = [t.get("type", "custom") for t in first.body["tools"]]
    assert kinds[0] == "computer_20250124" and "bash_20250124" in kinds
    assert first.body["tools"][-1]["name"] == "get_weather" and kinds[-1] == "custom"
    sent = results_of(second)
    assert sent["toolu_bash"].strip() == "hello-from-42", "real bash ran the command"
    assert sent["toolu_weather"] == "38 degrees celsius in Phoenix, AZ"
    assert [e.tool_use_id for e in of(events, ToolResultEvent)] == ["toolu_bash", "toolu_weather"]
    assert final.messages[-1]["content"] == [
        {"type": "text", "text": "38 degrees, and bash says 42."}
    ]

    exchanges = of(events, ApiExchange)
    assert [x.status for x in exchanges] == [200, 200]
    assert [httpx.URL(x.url).path for x in exchanges] == [provider.loop_path] * 2
    assert all(x.request_headers["authorization"] == "[REDACTED]" for x in exchanges)
    assert [x.request_body for x in exchanges] == [first.body, second.body], "as sent"
    dumped = json.dumps([to_json(e) for e in events])
    for secret in provider.secrets:
        assert secret not in dumped


async def test_thinking_round_trips(api: FakeAnthropicAPI, provider: ProviderRun) -> None:
    api.push(
        message(thinking("Check the weather first."), tool_use("get_weather", {"location": "x"})),
        message(thinking("No data; say so."), text("I could not find it.")),
    )
    cfg = provider_config(
        provider, thinking_budget=2048, max_tokens=4096, extra_tools=(weather_tool(),)
    )
    events = await collect(cfg, user("weather"))
    assert done(events).reason == "end_turn"
    assert not api.invalid_requests, api.invalid_requests[0].error
    second = api.requests[1].body
    assert second["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert second["messages"][1]["content"][0] == api.requests[0].response["content"][0]
    assert second["messages"][1]["content"][0]["signature"]


async def test_an_overloaded_api_is_retried(api: FakeAnthropicAPI, provider: ProviderRun) -> None:
    if provider.name == "bedrock":
        api.push(bedrock_error(503, "Bedrock is unable to process your request."))
    else:
        api.push(error(529, "Overloaded", retry_after=0.1))
    api.push(message(text("back")))
    events = await collect(provider_config(provider), user("hi"))
    assert done(events).reason == "end_turn" and not of(events, ErrorEvent)
    assert [x.status for x in of(events, ApiExchange)] == [api.requests[0].status, 200]
    assert api.requests[0].status in (503, 529)
    assert api.requests[1].headers["x-stainless-retry-count"] == "1"


async def test_a_refused_request_is_reported_with_the_providers_message(
    api: FakeAnthropicAPI, provider: ProviderRun
) -> None:
    reason = "messages.0.content: prompt is too long: 250000 tokens > 200000 maximum"
    api.push(bedrock_error(400, reason) if provider.name == "bedrock" else error(400, reason))
    start = user("hi")
    events = await collect(provider_config(provider), start)
    (err,) = of(events, ErrorEvent)
    assert (err.status, err.message) == (400, reason)
    assert [x.status for x in of(events, ApiExchange)] == [400], "a 400 is not retried"
    final = done(events)
    assert final.reason == "error" and final.messages == start


async def test_bedrock_with_the_wrong_secret_key_is_refused_by_the_signature_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    other = AwsCredentials(secret_key="not-the-key-the-client-signs-with")
    with FakeAnthropicAPI([message(text("never"))], aws=other) as api:
        offline_provider_env(monkeypatch, api, str(tmp_path))
        events = await collect(provider_config(BEDROCK), user("hi"))
    (err,) = of(events, ErrorEvent)
    assert err.status == 403 and "signature we calculated does not match" in err.message
    assert api.remaining == 1, "a refused request consumes no reply"


async def test_missing_cloud_credentials_are_reported_not_raised(
    api: FakeAnthropicAPI, provider: ProviderRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    if provider.name == "bedrock":
        monkeypatch.delenv("AWS_ACCESS_KEY_ID")
        monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
        # the SDK caches one boto3 session per region in the process: a region of its own
        monkeypatch.setenv("AWS_REGION", "eu-west-3")
        expected = "Could not resolve AWS credentials"
    else:
        monkeypatch.delenv(VERTEX_ACCESS_TOKEN_ENV)
        expected = "default credentials were not found"
    start = user("hi")
    events = await collect(provider_config(provider), start)
    (err,) = of(events, ErrorEvent)
    assert expected in err.message
    assert done(events).reason == "error" and done(events).messages == start
    assert not api.requests


# ---------------------------------------------------------------- the fake's provider checks


def minimal_body(**extra: Any) -> dict[str, Any]:
    return {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 64,
        "tools": [COMPUTER],
        "messages": [{"role": "user", "content": "hi"}],
        **extra,
    }


def signed_post(
    api: FakeAnthropicAPI,
    path: str,
    body: dict[str, Any],
    *,
    tamper: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A Bedrock request signed with SigV4 by botocore (as boto3 signs), sent with httpx."""
    raw = json.dumps(body).encode()
    url = f"{api.url}{path}"
    request = AWSRequest(
        method="POST",
        url=url,
        data=raw,
        headers={"content-type": "application/json", **(headers or {})},
    )
    creds = Credentials(DEFAULT_AWS.access_key, DEFAULT_AWS.secret_key)
    SigV4Auth(creds, "bedrock", DEFAULT_AWS.region).add_auth(request)
    sent = dict(request.headers.items())
    if tamper:
        raw = raw.replace(b'"hi"', b'"ho"')
    return httpx.post(url, content=raw, headers=sent, timeout=10)


def test_bedrock_refuses_model_and_stream_in_the_body(api: FakeAnthropicAPI) -> None:
    api.push(message(text("ok")))
    path = BEDROCK.path
    body = minimal_body(anthropic_beta=[COMPUTER_BETA])
    for key, value in (("model", BEDROCK.model), ("stream", False)):
        refused = signed_post(api, path, {**body, key: value})
        assert refused.status_code == 400, refused.text
        assert f"extraneous key [{key}] is not permitted" in refused.json()["message"]
        assert refused.headers["x-amzn-errortype"].startswith("ValidationException")
    assert api.remaining == 1
    accepted = signed_post(api, path, body)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["content"] == [text("ok")]
    assert [r.valid for r in api.requests] == [False, False, True]


def test_bedrock_reads_betas_from_the_body_only(api: FakeAnthropicAPI) -> None:
    refused = signed_post(
        api, BEDROCK.path, minimal_body(), headers={"anthropic-beta": COMPUTER_BETA}
    )
    assert refused.status_code == 400
    assert "needs the body's anthropic_beta entry" in refused.json()["message"]


def test_bedrock_checks_the_signature_and_the_version(api: FakeAnthropicAPI) -> None:
    body = minimal_body(anthropic_beta=[COMPUTER_BETA])
    tampered = signed_post(api, BEDROCK.path, body, tamper=True)
    assert tampered.status_code == 403
    assert tampered.headers["x-amzn-errortype"].startswith("InvalidSignatureException")
    unsigned = httpx.post(f"{api.url}{BEDROCK.path}", json=body, timeout=10)
    assert unsigned.status_code == 403
    no_version = {k: v for k, v in body.items() if k != "anthropic_version"}
    assert signed_post(api, BEDROCK.path, no_version).status_code == 400
    vertex_version = signed_post(
        api, BEDROCK.path, {**body, "anthropic_version": "vertex-2023-10-16"}
    )
    assert vertex_version.status_code == 400
    assert not api.valid_requests


def test_vertex_checks_token_model_and_version(api: FakeAnthropicAPI) -> None:
    api.push(message(text("ok")))
    url = f"{api.url}{VERTEX.path}"
    good = {"authorization": f"Bearer {DEFAULT_VERTEX_TOKEN}", "anthropic-beta": COMPUTER_BETA}
    body = {**minimal_body(), "anthropic_version": "vertex-2023-10-16"}
    wrong_token = httpx.post(url, json=body, headers={**good, "authorization": "Bearer x"})
    assert wrong_token.status_code == 401
    assert wrong_token.json()["error"]["status"] == "UNAUTHENTICATED"
    with_model = httpx.post(url, json={**body, "model": VERTEX.model}, headers=good)
    assert with_model.status_code == 400 and "model" in with_model.json()["error"]["message"]
    no_beta = httpx.post(url, json=body, headers={"authorization": good["authorization"]})
    assert no_beta.status_code == 400
    bedrock_version = httpx.post(
        url, json={**body, "anthropic_version": "bedrock-2023-05-31"}, headers=good
    )
    assert bedrock_version.status_code == 400
    assert api.remaining == 1
    accepted = httpx.post(url, json=body, headers=good)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["model"] == VERTEX.model
