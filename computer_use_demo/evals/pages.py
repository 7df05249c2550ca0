"""The suite's web pages, served on 127.0.0.1 for one desktop's Firefox (no internet needed).

GET serves the suite's ``pages`` folder. A form posted to ``/submit/NAME`` is saved as
``NAME.json`` (its fields) in the inbox, and every request is logged to ``requests.log`` there
(a link followed shows as ``GET /path``): checkers read both. ``clear`` empties the inbox
between tasks.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MAX_FORM = 64 * 1024
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class PagesServer:
    """A threaded HTTP server for ``root`` whose inbox is ``inbox``."""

    def __init__(self, root: Path, inbox: Path) -> None:
        self.root = Path(root)
        self.inbox = Path(inbox)
        self.lock = threading.Lock()
        self.clear()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def clear(self) -> None:
        with self.lock:
            shutil.rmtree(self.inbox, ignore_errors=True)
            self.inbox.mkdir(parents=True, mode=0o700)
            (self.inbox / "requests.log").touch()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _log(self, line: str) -> None:
        with self.lock, open(self.inbox / "requests.log", "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def _save(self, name: str, fields: dict[str, Any]) -> None:
        with self.lock:
            (self.inbox / f"{name}.json").write_text(json.dumps(fields, indent=2) + "\n")

    def _handler(self) -> type[SimpleHTTPRequestHandler]:
        server = self

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(server.root), **kwargs)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests.log has what matters

            def do_GET(self) -> None:
                server._log(f"GET {urllib.parse.urlsplit(self.path).path}")
                super().do_GET()

            def do_POST(self) -> None:
                path = urllib.parse.urlsplit(self.path).path
                server._log(f"POST {path}")
                name = path.removeprefix("/submit/")
                length = int(self.headers.get("Content-Length") or 0)
                if not path.startswith("/submit/") or not _NAME.match(name):
                    self.send_error(404, "forms are posted to /submit/NAME")
                    return
                if length > MAX_FORM:
                    self.send_error(413, "form too large")
                    return
                body = self.rfile.read(length).decode("utf-8", errors="replace")
                fields = {k: v[-1] for k, v in urllib.parse.parse_qs(body).items()}
                server._save(name, fields)
                page = (
                    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Thank you</title>"
                    f"</head><body><h1>Thank you</h1><p>Form {name} received.</p></body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

        return Handler
