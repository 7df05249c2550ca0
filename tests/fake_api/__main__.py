"""Run the fake Messages API by hand:

    python -m tests.fake_api [--port 18000] [--script replies.json]

Then point the demo at it: ``ANTHROPIC_BASE_URL=http://127.0.0.1:18000 ANTHROPIC_API_KEY=x
python -m computer_use_demo "hello"``. A script is a JSON list of replies, each either
``{"content": [...blocks], "stop_reason": "end_turn"}`` or ``{"status": 429, "message": "...",
"retry_after": 1}``. Without a script every valid request gets a short text answer that
describes what was sent; invalid requests get the real API's 400.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .server import FakeAnthropicAPI, Reply, error, message, text


def _reply(spec: dict[str, Any]) -> Reply:
    if spec.get("status", 200) != 200:
        return error(
            spec["status"],
            spec.get("message", "scripted error"),
            retry_after=spec.get("retry_after"),
        )
    reply = message(*spec.get("content", []), stop_reason=spec.get("stop_reason"))
    reply.delay = float(spec.get("delay", 0))
    return reply


def _describe(body: dict[str, Any]) -> Reply:
    last = body["messages"][-1]
    content = last["content"]
    if isinstance(content, str):
        said = content
    else:
        said = " ".join(b.get("text", f"[{b.get('type')}]") for b in content)
    tools = ", ".join(t["name"] for t in body.get("tools") or []) or "none"
    return message(
        text(
            f"(fake API) {len(body['messages'])} message(s), tools: {tools}. You said: {said[:200]}"
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.fake_api", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--script", help="a JSON file with a list of replies")
    args = parser.parse_args(argv)
    script = []
    if args.script:
        with open(args.script, encoding="utf-8") as f:
            script = [_reply(item) for item in json.load(f)]
    api = FakeAnthropicAPI(
        script, host=args.host, port=args.port, default=None if script else _describe
    )
    api.start()
    print(f"fake Messages API listening on {api.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()
        for r in api.requests:
            print(f"{r.method} {r.path} -> {r.status} {r.error or ''}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
