"""Which of the stack's services the supervisor gave up on (image/supervisord.conf), for the
page (the door's ``/status`` also says whether the chat and the desktop answer).

The page polls this through the door's ``/status``: when the chat or the desktop comes back
after a crash it reloads that frame by itself, and a service that kept crashing (supervisord
stops restarting it: state FATAL) is named on the page with the file its log is in.
"""

from __future__ import annotations

import logging
import xmlrpc.client
from pathlib import Path
from typing import Any

log = logging.getLogger("door")

#: What the page calls each supervised program.
LABELS = {
    "xvfb": "the X server (Xvfb)",
    "mutter": "the window manager (mutter)",
    "tint2": "the panel (tint2)",
    "x11vnc": "the VNC server (x11vnc)",
    "novnc": "the browser VNC bridge (websockify)",
    "desktop-server": "the desktop server",
    "streamlit": "the chat app (Streamlit)",
    "webpage": "the door",
}


def supervised(socket: Path) -> dict[str, Any]:
    """What the supervisor says of its programs: ``failed``, those that kept crashing and
    are no longer restarted (FATAL), with their logs; ``started``, when each one running
    was started (the page reloads a frame whose server was restarted, however briefly it
    was down). Empty when there is no supervisor to ask."""
    from supervisor.xmlrpc import SupervisorTransport  # the supervisor's own client

    transport = SupervisorTransport(None, None, f"unix://{socket}")
    proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)
    try:
        infos: list[dict[str, Any]] = proxy.supervisor.getAllProcessInfo()  # type: ignore[assignment]
    except (OSError, xmlrpc.client.Error) as e:
        log.debug("the supervisor did not answer: %s", e)
        return {"failed": [], "started": {}}
    finally:
        transport.close()
    failed = [
        {
            "name": info["name"],
            "label": LABELS.get(info["name"], info["name"]),
            "log": info.get("stdout_logfile") or "",
            "text": f"{LABELS.get(info['name'], info['name'])} kept crashing and is no longer "
            f"restarted; its log: {info.get('stdout_logfile') or '(none)'}",
        }
        for info in infos
        if info.get("statename") == "FATAL"
    ]
    started = {i["name"]: i.get("start", 0) for i in infos if i.get("statename") == "RUNNING"}
    return {"failed": failed, "started": started}
