"""The combined page on 8080: the chat (Streamlit) and the desktop (noVNC) side by side.

Only the standard library: it serves one page whose iframe URLs are built in the browser from
the address the page was loaded from, with the ports this server was told about.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

PAGE = Path(__file__).with_name("index.html")
#: Present while the person has the desktop: the agent pauses (computer_use_demo/pause.py).
CONTROL_FILE = os.environ.get("CONTROL_FILE")


def render_page(streamlit_port: int, novnc_port: int) -> bytes:
    """index.html with the configured ports filled in."""
    html = PAGE.read_text(encoding="utf-8")
    html = html.replace("__STREAMLIT_PORT__", str(streamlit_port))
    return html.replace("__NOVNC_PORT__", str(novnc_port)).encode("utf-8")


def control(path: str | None, take: bool | None = None) -> dict[str, bool]:
    """The person's hold on the desktop (set it when ``take`` is given), as JSON."""
    if path is None:
        return {"available": False, "person": False}
    if take is True:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).touch()
    elif take is False:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    return {"available": True, "person": os.path.exists(path)}


def make_handler(page: bytes) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ComputerUseDemo"

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path in ("/", "/index.html"):
                self._send(HTTPStatus.OK, page, "text/html; charset=utf-8")
            elif path == "/healthz":
                self._send(HTTPStatus.OK, b"ok\n", "text/plain; charset=utf-8")
            elif path == "/control":
                self._json(HTTPStatus.OK, control(CONTROL_FILE))
            else:
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")

        do_HEAD = do_GET

        def _json(self, status: int, data: object) -> None:
            self._send(status, json.dumps(data).encode(), "application/json")

        def do_POST(self) -> None:
            """POST /control {"person": true|false}: take or hand back the desktop. JSON only,
            so that another site's form cannot post it (a cross-origin JSON post needs CORS)."""
            if self.path.split("?", 1)[0] != "/control":
                self._send(HTTPStatus.NOT_FOUND, b"not found\n", "text/plain; charset=utf-8")
                return
            length = min(int(self.headers.get("Content-Length") or 0), 1024)
            try:
                if not self.headers.get("Content-Type", "").startswith("application/json"):
                    raise ValueError("send JSON")
                take = json.loads(self.rfile.read(length))["person"]
                if not isinstance(take, bool):
                    raise ValueError("person must be true or false")
            except (ValueError, KeyError, TypeError) as e:
                self._json(HTTPStatus.BAD_REQUEST, {"error": str(e)})
                return
            self._json(HTTPStatus.OK, control(CONTROL_FILE, take))

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", default=os.environ.get("BIND_ADDR", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("HTTP_PORT", "8080")))
    parser.add_argument(
        "--streamlit-port", type=int, default=int(os.environ.get("STREAMLIT_PORT", "8501"))
    )
    parser.add_argument("--novnc-port", type=int, default=int(os.environ.get("NOVNC_PORT", "6080")))
    args = parser.parse_args(argv)
    page = render_page(args.streamlit_port, args.novnc_port)
    server = ThreadingHTTPServer((args.bind, args.port), make_handler(page))
    server.daemon_threads = True
    print(f"combined page on http://{args.bind}:{args.port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
