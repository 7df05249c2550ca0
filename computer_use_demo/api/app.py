"""The task API's routes (FastAPI), mounted on the door under ``/api/`` behind its token.

The door checks the token (its cookie, or ``Authorization: Bearer <token>``), the Host and
the Origin before any of this runs. The schema is at ``/api/openapi.json``, the docs at
``/api/docs``. Blocking work (a session's files, starting and stopping a run) runs in
FastAPI's thread pool, so a slow disk never holds up the event streams.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, StreamingResponse

from ..sessions.replay import render_html
from ..sessions.trajectory import EVENTS_FILE, IMAGES_DIR
from . import feed, service
from .schemas import (
    ApprovalAnswer,
    Control,
    ControlRequest,
    NewMessage,
    NewSession,
    Problem,
    SessionInfo,
    SessionState,
    Started,
)

PREFIX = "/api"
IMAGE_NAME = re.compile(r"^[0-9a-f]{16,64}\.(png|jpg|gif|webp)$")
ERRORS = {
    401: {"model": Problem, "description": "no or a wrong token"},
    404: {"model": Problem, "description": "no such session (or approval)"},
    409: {"model": Problem, "description": "an agent already works on the desktop"},
    422: {"description": "a request or setting that cannot be used, and why"},
}

DESCRIPTION = """Drive the demo from code: sessions are the chat's own (a task started here shows
live in the chat and on the desktop), one agent per desktop holds across both.

Authenticate with `Authorization: Bearer <token>` (the token the start printed). Follow a
session with `GET /api/sessions/{id}/events` (Server-Sent Events; reconnect with
`Last-Event-ID` to get what you missed)."""


def problem(status: int, detail: str, holder: str | None = None) -> JSONResponse:
    body: dict[str, object] = {"detail": detail}
    if holder is not None:
        body["holder"] = holder
    return JSONResponse(body, status_code=status)


def create_app() -> FastAPI:
    api = FastAPI(
        title="Computer Use Demo task API",
        description=DESCRIPTION,
        version="1",
        openapi_url=f"{PREFIX}/openapi.json",
        docs_url=f"{PREFIX}/docs",
        redoc_url=None,
        responses=ERRORS,  # type: ignore[arg-type]
    )

    @api.exception_handler(service.ApiError)
    async def api_error(request: Request, e: service.ApiError) -> JSONResponse:
        return problem(e.status, e.detail, e.holder)

    @api.get(f"{PREFIX}/sessions", response_model=list[SessionInfo], tags=["sessions"])
    def list_sessions() -> list[SessionInfo]:
        """Every saved session, newest first."""
        return service.list_sessions()

    @api.post(f"{PREFIX}/sessions", response_model=SessionState, status_code=201, tags=["sessions"])
    def create_session(body: NewSession | None = None) -> SessionState:
        """A new, empty session (send it a message to start a run)."""
        trajectory = service.create_session((body or NewSession()).title)
        return service.state(trajectory)

    @api.get(f"{PREFIX}/sessions/{{session_id}}", response_model=SessionState, tags=["sessions"])
    def session_state(session_id: str) -> SessionState:
        """Status, steps, usage and cost, the pending approval, whether the person holds the
        desktop, and how the last run ended (with Claude's last answer)."""
        return service.state(service.open_session(session_id))

    @api.post(
        f"{PREFIX}/sessions/{{session_id}}/messages",
        response_model=Started,
        status_code=202,
        tags=["runs"],
    )
    def send_message(session_id: str, body: NewMessage) -> Started:
        """Send a message: a run of the agent starts with these settings (the chat's saved
        ones for what is left out). 409 while an agent works on the desktop."""
        trajectory = service.open_session(session_id)
        if not trajectory.title and body.text.strip():
            trajectory.title = body.text.strip()[:200]
            trajectory._write_meta()
        config = service.run_config(body.settings)
        service.start_run(trajectory, body.text, config, interrupt=body.interrupt)
        return Started(
            session=service.state(trajectory),
            events=f"{PREFIX}/sessions/{trajectory.id}/events",
        )

    @api.post(f"{PREFIX}/sessions/{{session_id}}/stop", tags=["runs"])
    def stop(session_id: str) -> dict[str, bool]:
        """Stop the session's run (the running tool too); the history stays valid."""
        return {"stopped": service.stop(service.open_session(session_id))}

    @api.post(f"{PREFIX}/sessions/{{session_id}}/approvals/{{approval_id}}", tags=["runs"])
    def approve(session_id: str, approval_id: str, body: ApprovalAnswer) -> dict[str, bool]:
        """Approve or deny the action the session's run waits on (its id is in the state's
        ``pending_approval`` and in the ``approval_asked`` event)."""
        service.answer(service.open_session(session_id), approval_id, body.approved)
        return {"approved": body.approved}

    @api.get(f"{PREFIX}/control", response_model=Control, tags=["desktop"])
    def get_control() -> Control:
        """Whether the person holds the desktop."""
        return Control(person=service.gate().paused)

    @api.post(f"{PREFIX}/control", response_model=Control, tags=["desktop"])
    def set_control(body: ControlRequest) -> Control:
        """Take control (a running agent pauses after its current action) or hand it back
        (it goes on, with a fresh screenshot)."""
        gate = service.gate()
        gate.take() if body.person else gate.hand_back()
        return Control(person=gate.paused)

    @api.get(
        f"{PREFIX}/sessions/{{session_id}}/events",
        tags=["sessions"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def events(
        session_id: str,
        last_event_id: Annotated[str | None, Header()] = None,
        after: Annotated[str | None, Query(description="as Last-Event-ID")] = None,
        until_done: Annotated[bool, Query(description="end after the next run's end")] = False,
    ) -> StreamingResponse:
        """The session's events as Server-Sent Events: every saved one, then each as it
        comes (text deltas included). ``event:`` is the kind, ``data:`` its JSON, ``id:``
        what to send back as ``Last-Event-ID`` to go on from there."""
        trajectory = await run_in_threadpool(service.open_session, session_id)
        try:
            offset, seq = feed.parse_event_id(
                last_event_id if last_event_id is not None else after,
                trajectory.path / EVENTS_FILE,
            )
        except feed.BadEventId as e:
            raise service.ApiError(422, str(e)) from e
        stream = feed.follow(
            trajectory,
            offset=offset,
            after_delta=seq,
            until_done=until_done,
            images_url=f"{PREFIX}/sessions/{trajectory.id}/images",
        )
        return StreamingResponse(
            stream,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @api.get(
        f"{PREFIX}/sessions/{{session_id}}/events.jsonl",
        tags=["sessions"],
        response_class=FileResponse,
    )
    def raw_events(session_id: str) -> FileResponse:
        """The saved events, one JSON object a line, as stored (screenshots as file names
        under ``images/``)."""
        trajectory = service.open_session(session_id)
        return FileResponse(
            trajectory.path / EVENTS_FILE,
            media_type="application/x-ndjson",
            filename=f"session-{trajectory.id}.jsonl",
        )

    @api.get(
        f"{PREFIX}/sessions/{{session_id}}/images/{{name}}",
        tags=["sessions"],
        response_class=FileResponse,
    )
    def image(session_id: str, name: str) -> FileResponse:
        """A screenshot of the session (the ``image_url`` of a tool result event)."""
        trajectory = service.open_session(session_id)
        path = trajectory.path / IMAGES_DIR / name
        if not IMAGE_NAME.match(name) or not path.is_file():
            raise service.ApiError(404, f"no image {name!r} in this session")
        return FileResponse(path)

    @api.get(
        f"{PREFIX}/sessions/{{session_id}}/replay",
        tags=["sessions"],
        response_class=HTMLResponse,
    )
    def replay(session_id: str) -> HTMLResponse:
        """The session as one self-contained HTML page (screenshots inlined)."""
        trajectory = service.open_session(session_id)
        title = trajectory.title.strip() or "Computer Use Demo session"
        page = render_html(trajectory.events(), title=title)
        disposition = f'attachment; filename="session-{trajectory.id}.html"'
        return HTMLResponse(page, headers={"Content-Disposition": disposition})

    @api.get(f"{PREFIX}", include_in_schema=False)
    def index() -> dict[str, str]:
        return {"docs": f"{PREFIX}/docs", "openapi": f"{PREFIX}/openapi.json"}

    return api
