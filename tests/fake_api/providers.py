"""The Messages API as Amazon Bedrock and Google Vertex AI serve it, for the fake API.

Both take the model from the URL and ``anthropic_version`` from the body; they differ in
where the betas go and how a caller signs in:

- Bedrock: ``POST /model/{model}/invoke``. Betas only as the body's ``anthropic_beta`` list
  (an ``anthropic-beta`` HTTP header is not read by InvokeModel), AWS SigV4 (checked against
  the fake's credentials with botocore, as AWS would) or a Bedrock API key (``Bearer``).
  ``model`` or ``stream`` in the body is refused ("extraneous key"). Errors are
  ``{"message": ...}`` with an ``x-amzn-ErrorType`` header.
- Vertex: ``POST /v1/projects/{project}/locations/{region}/publishers/anthropic/models/
  {model}:rawPredict``. Betas in the ``anthropic-beta`` header (or the body's
  ``anthropic_beta``), an OAuth ``Bearer`` access token. Errors are the Messages API's JSON,
  except authentication, which is Google's.

Like validate.py this module must not import computer_use_demo.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .validate import Invalid, betas_of, validate_payload

ANTHROPIC = "anthropic"
BEDROCK = "bedrock"
VERTEX = "vertex"

#: The versions each provider documents, plus plain dated API versions (the installed SDK
#: sends its own ``ANTHROPIC_API_VERSION`` in the body to both).
_BEDROCK_VERSION = re.compile(r"^(bedrock-)?\d{4}-\d{2}-\d{2}$")
_VERTEX_VERSION = re.compile(r"^(vertex-)?\d{4}-\d{2}-\d{2}$")
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)  # AWS refuses older (or newer) signatures

_BEDROCK_PATH = re.compile(
    r"^/model/(?P<model>[^/]+)/(?P<method>invoke|invoke-with-response-stream)$"
)
_VERTEX_PATH = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/publishers/anthropic/"
    r"models/(?P<model>[^/:]+):(?P<method>rawPredict|streamRawPredict)$"
)
_SIGV4 = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, ?SignedHeaders=(?P<signed>[a-z0-9;-]+), ?"
    r"Signature=(?P<signature>[0-9a-f]{64})$"
)


@dataclass(frozen=True)
class AwsCredentials:
    """What the fake Bedrock accepts: requests signed with this key for this region."""

    access_key: str = "AKIAFAKEFAKEFAKE0001"
    secret_key: str = "fake/aws/secret/key/0123456789abcdefABCDEF"
    region: str = "us-east-1"


DEFAULT_AWS = AwsCredentials()
DEFAULT_VERTEX_TOKEN = "ya29.fake-vertex-access-token"


@dataclass(frozen=True)
class Route:
    """Which provider's endpoint a request path is, and what its URL says."""

    provider: str
    model: str | None = None
    project: str | None = None
    region: str | None = None
    stream: bool = False


def route(path: str) -> Route | None:
    """The endpoint of ``path`` (query ignored), or None for an unknown path."""
    path = path.split("?")[0]
    if path == "/v1/messages":
        return Route(ANTHROPIC)
    if m := _BEDROCK_PATH.match(path):
        model = urllib.parse.unquote(m["model"])
        return Route(BEDROCK, model=model, stream=m["method"] != "invoke")
    if m := _VERTEX_PATH.match(path):
        return Route(
            VERTEX,
            model=urllib.parse.unquote(m["model"]),
            project=urllib.parse.unquote(m["project"]),
            region=urllib.parse.unquote(m["region"]),
            stream=m["method"] != "rawPredict",
        )
    return None


def validate_bedrock_request(
    method: str,
    path: str,
    headers: Mapping[str, str],
    raw: bytes,
    body: Any,
    *,
    secret: bytes,
    aws: AwsCredentials,
    now: dt.datetime | None = None,
) -> None:
    """Raise Invalid if Bedrock's InvokeModel would refuse this request."""
    _check_aws_auth(method, path, headers, raw, aws, now or dt.datetime.now(dt.UTC))
    if not isinstance(body, dict):
        raise Invalid("Malformed input request: expected a JSON object, please reformat your input")
    for key in ("model", "stream"):
        if key in body:
            raise Invalid(
                f"Malformed input request: #: extraneous key [{key}] is not permitted, "
                "please reformat your input and try again."
            )
    _check_version(body, _BEDROCK_VERSION, "bedrock-2023-05-31")
    betas = body.get("anthropic_beta", [])
    if not isinstance(betas, list) or not all(isinstance(b, str) for b in betas):
        raise Invalid("Malformed input request: #/anthropic_beta: expected an array of strings")
    validate_payload(
        body,
        set(betas),
        secret=secret,
        beta_source="the body's anthropic_beta entry",
        model=getattr(route(path), "model", None),
    )


def validate_vertex_request(
    headers: Mapping[str, str],
    body: Any,
    *,
    secret: bytes,
    token: str | None,
    model: str | None = None,
    streaming: bool = False,
) -> None:
    """Raise Invalid if Vertex AI's rawPredict (``streaming``: streamRawPredict) would refuse
    this request."""
    auth = headers.get("authorization", "")
    given = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
    if not given or (token is not None and not hmac.compare_digest(given, token)):
        raise Invalid(
            "Request had invalid authentication credentials. Expected OAuth 2 access token, "
            "login cookie or other valid authentication credential.",
            401,
            "UNAUTHENTICATED",
        )
    if not isinstance(body, dict):
        raise Invalid("request body must be a JSON object")
    if "model" in body:
        raise Invalid("model: Extra inputs are not permitted (Vertex AI takes it from the URL)")
    if body.get("stream") and not streaming:
        raise Invalid("stream: rawPredict does not stream; use streamRawPredict")
    if streaming and body.get("stream") is not True:
        raise Invalid("streamRawPredict answers a stream: the body needs stream: true")
    _check_version(body, _VERTEX_VERSION, "vertex-2023-10-16")
    extra = body.get("anthropic_beta", [])
    if not isinstance(extra, list) or not all(isinstance(b, str) for b in extra):
        raise Invalid("anthropic_beta: Input should be a valid list of strings")
    validate_payload(body, betas_of(headers) | set(extra), secret=secret, model=model)


def _check_version(body: dict[str, Any], pattern: re.Pattern[str], documented: str) -> None:
    version = body.get("anthropic_version")
    if not isinstance(version, str) or not pattern.match(version):
        raise Invalid(
            f"anthropic_version: Field required in the body (e.g. {documented!r}), got {version!r}"
        )


def _check_aws_auth(
    method: str,
    path: str,
    headers: Mapping[str, str],
    raw: bytes,
    aws: AwsCredentials,
    now: dt.datetime,
) -> None:
    """Bedrock API keys are opaque bearer tokens; SigV4 is checked in full."""
    auth = headers.get("authorization", "")
    if auth.startswith("Bearer ") and auth.removeprefix("Bearer ").strip():
        return
    m = _SIGV4.match(auth)
    if not m:
        raise Invalid("Missing Authentication Token", 403, "MissingAuthenticationTokenException")
    if m["key"] != aws.access_key:
        raise Invalid(
            "The security token included in the request is invalid.",
            403,
            "UnrecognizedClientException",
        )
    if m["service"] != BEDROCK or m["region"] != aws.region:
        raise Invalid(
            f"Credential should be scoped to a valid region ({aws.region}) and service "
            f"({BEDROCK}), not '{m['region']}/{m['service']}'.",
            403,
            "InvalidSignatureException",
        )
    stamp = headers.get("x-amz-date", "")
    try:
        signed_at = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise Invalid("Missing or malformed X-Amz-Date", 403, "InvalidSignatureException") from None
    if abs(now - signed_at) > MAX_CLOCK_SKEW or m["date"] != stamp[:8]:
        raise Invalid("Signature expired", 403, "InvalidSignatureException")
    expected = _sigv4_signature(method, path, headers, raw, m["signed"].split(";"), aws, stamp)
    if not hmac.compare_digest(expected, m["signature"]):
        raise Invalid(
            "The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method.",
            403,
            "InvalidSignatureException",
        )


def _sigv4_signature(
    method: str,
    path: str,
    headers: Mapping[str, str],
    raw: bytes,
    signed: list[str],
    aws: AwsCredentials,
    stamp: str,
) -> str:
    """The signature AWS computes for the request as received (botocore's own algorithm)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    missing = [name for name in signed if name not in headers]
    if missing or "host" not in signed:
        raise Invalid(
            f"signed headers missing from the request: {', '.join(missing) or 'host'}",
            403,
            "InvalidSignatureException",
        )
    request = AWSRequest(
        method=method,
        url=f"http://{headers['host']}{path}",
        headers={name: headers[name] for name in signed},
        data=raw,
    )
    request.context["timestamp"] = stamp
    token = headers.get("x-amz-security-token")
    signer = SigV4Auth(Credentials(aws.access_key, aws.secret_key, token), BEDROCK, aws.region)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)
