"""Agent runs that outlive a Streamlit script run.

A Streamlit script is re-executed on every click and every browser tab has its own session,
so the agent cannot live in the script. Each run lives in a background thread with its own
asyncio loop, owned by a module-level registry keyed by the session (trajectory) id: every
rerun, every tab and every reload finds the same run. The run appends each event to the
session's Trajectory on disk as it arrives; the page only renders what is there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from ..agent import shutdown
from ..agent.events import (
    TRANSIENT,
    ApprovalAnswered,
    ApprovalAsked,
    Done,
    ErrorEvent,
    Event,
    Usage,
    UserMessage,
)
from ..agent.history import heal, is_blank
from ..agent.loop import LoopConfig, agent_events, build_tools
from ..agent.pause import PauseGate, control_file
from ..agent.streaming import LiveText
from ..desktop.lock import DesktopBusy, DesktopLock, display_of
from ..sessions import live
from ..sessions.trajectory import (
    EVENTS_FILE,
    Trajectory,
    TrajectoryInfo,
    list_trajectories,
    rebuild_messages,
)
from ..tools import ToolCollection
from ..tools.approval_policy import ApprovalRefused, ApprovalRequest

log = logging.getLogger(__name__)

#: The reference's note that tells the model its last turn was cut short.
INTERRUPT_TEXT = "(user stopped or interrupted and wrote the following)"
#: How often a run looks for requests of other processes (stop, approval answers: live.py).
REQUEST_POLL_SECONDS = 0.1
#: Who started a run when the caller does not say (the lock and the session's note say it).
CHAT_APP = "chat app"


class SessionRun:
    """One call of the agent loop in a thread of its own, recorded to a Trajectory."""

    def __init__(
        self,
        trajectory: Trajectory,
        config: LoopConfig,
        messages: list[dict[str, Any]],
        *,
        prior_events: Sequence[Event] = (),
        tools: Any = None,
        session_spent_usd: float = 0.0,
        pause: PauseGate | None = None,
        owner: str = CHAT_APP,
    ) -> None:
        self.trajectory = trajectory
        #: Who started the run ("chat app", "task API", "MCP client"), for messages.
        self.owner = owner
        #: The session's events file as this run left it (another process may write on).
        self.file_stamp: tuple[int, int] | None = None
        #: Called with every event (transient ones too) from the run's thread, after it is
        #: saved: the task API wakes its followers with it. Must not block.
        self.listeners: list[Callable[[Event], None]] = []
        self.config = config
        self.messages = messages
        self.tools = tools
        #: Every event of the session so far (earlier runs and this one), for rendering.
        self.events: list[Event] = list(prior_events)
        self.run_start = len(self.events)
        self.done: Done | None = None
        #: The history the run ended with, screenshots included (the Done keeps references):
        #: the next message goes on from it without reading them back. Dropped by _prune.
        self.history: list[dict[str, Any]] | None = None
        self.version = 0  # bumped on every event: the page reruns when it changes
        self.session_spent_usd = session_spent_usd
        self.pause = pause
        #: The answer streaming in (deltas are shown, never saved nor kept as events).
        self._live = LiveText()
        self.live_version = 0
        #: The action waiting for the person's Approve / Deny, and its answer's future.
        self._asked: tuple[ApprovalAsked, asyncio.Future[bool]] | None = None
        self._asks = 0
        self.started_at = time.monotonic()
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(
            target=self._main, name=f"agent-{trajectory.id}", daemon=True
        )
        #: The session's run lock, from before the first event is recorded to the run's end
        #: (a page opening the session meanwhile must not take the run for a crashed one).
        self._held = contextlib.ExitStack()
        self._held.enter_context(trajectory.running())

    # ---- lifecycle

    def start(self) -> SessionRun:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and self.done is None

    def stop(self, timeout: float = 30.0) -> Done | None:
        """Ask the loop to stop (it kills the running tool and heals), wait for its Done."""
        self.request_stop()
        self._thread.join(timeout)
        return self.done

    def request_stop(self) -> None:
        """Ask the loop to stop, without waiting (from any thread, a signal handler too)."""
        self._stop_requested.set()
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stop.set)

    def wait(self, timeout: float | None = None) -> Done | None:
        self._thread.join(timeout)
        return self.done

    # ---- reading

    def snapshot(self) -> tuple[int, list[Event]]:
        """(version, every event so far): a consistent copy for one page render."""
        with self._lock:
            return self.version, list(self.events)

    def live(self) -> tuple[int, list[dict[str, str]]]:
        """(live version, the text/thinking blocks streaming in now)."""
        with self._lock:
            return self.live_version, self._live.blocks()

    def pending_approval(self) -> ApprovalAsked | None:
        """The action that waits for the person now, if any (any page can answer it)."""
        with self._lock:
            return self._asked[0] if self._asked is not None else None

    def answer(self, approval_id: str, approved: bool, *, refused: str | None = None) -> bool:
        """The person's answer to the pending approval; False if it is no longer pending.
        ``refused``: nobody could be asked, and why (the model reads it)."""
        with self._lock:
            asked = self._asked
            if asked is None or asked[0].id != approval_id or self._loop is None:
                return False
        future = asked[1]

        def settle() -> None:
            if not future.done():
                if refused is not None:
                    future.set_exception(ApprovalRefused(refused))
                else:
                    future.set_result(approved)

        with contextlib.suppress(RuntimeError):  # the loop already closed
            self._loop.call_soon_threadsafe(settle)
        return True

    async def _ask(self, request: ApprovalRequest) -> bool:
        """Put an action to the person and wait for the answer (on the run's own loop)."""
        self._asks += 1
        asked = ApprovalAsked(
            id=f"{self.trajectory.id}-{self.run_start}-{self._asks}",
            tool_name=request.tool_name,
            action=request.action,
            action_class=request.action_class,
            description=request.description,
            input=request.tool_input,
            image=request.image,
        )
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        with self._lock:
            self._asked = (asked, future)
        self._record(asked)
        try:
            approved = await future
        except ApprovalRefused:
            self._record(ApprovalAnswered(id=asked.id, approved=False))
            raise
        finally:
            with self._lock:
                self._asked = None
        self._record(ApprovalAnswered(id=asked.id, approved=approved))
        return approved

    def run_events(self) -> list[Event]:
        """The events of this run only (for the progress line)."""
        with self._lock:
            return self.events[self.run_start :]

    # ---- the thread

    def _record(self, event: Event) -> None:
        self._keep(event)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a listener of session %s failed", self.trajectory.id)

    def _keep(self, event: Event) -> None:
        if isinstance(event, TRANSIENT):
            with self._lock:
                self._live.add(event)
                self.live_version += 1
            return
        if isinstance(event, Done):
            self.history = event.messages  # with its screenshots, for this session's next message
        try:  # kept as saved: screenshots stay on disk, not in the app's memory
            event = self.trajectory.append(event)
        except Exception:  # a full disk must not stop the run nor lose the event on screen
            log.exception("could not save an event of session %s", self.trajectory.id)
        with self._lock:
            if isinstance(event, Done):
                self.done = event  # the history to go on from; the list shows, needs none
                event = replace(event, messages=[])
            self.events.append(event)
            self._live.clear()
            self.live_version += 1
            self.version += 1

    def _main(self) -> None:
        live.mark_running(self.trajectory.path, self.owner)
        try:
            asyncio.run(self._run())
        except BaseException as e:  # keep the thread's failure visible in the chat
            log.exception("agent run of session %s failed", self.trajectory.id)
            if self.done is None:
                self._record(ErrorEvent(message=f"{type(e).__name__}: {e}"))
                self._record(Done(reason="error", messages=heal(self.messages)))
        finally:
            self.messages = []  # the history with its screenshots: the Done has it, on disk
            self._held.close()
            live.clear_running(self.trajectory.path)
            self.file_stamp = events_stamp(self.trajectory)

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        if self._stop_requested.is_set():
            self._stop.set()
        watcher = asyncio.ensure_future(self._watch_requests())
        try:
            await self._consume()
        finally:
            watcher.cancel()

    async def _watch_requests(self) -> None:
        """Stop requests and approval answers from other processes (live.py)."""
        folder = self.trajectory.path
        while True:
            await asyncio.sleep(REQUEST_POLL_SECONDS)
            if live.take_stop_request(folder) and self._stop is not None:
                self._stop.set()
            asked = self.pending_approval()
            if asked is not None:
                answer = live.take_answer(folder, asked.id)
                if answer is not None:
                    self.answer(asked.id, answer)

    async def _consume(self) -> None:
        async for event in agent_events(
            self.config,
            self.messages,
            tools=self.tools,
            stop=self._stop,
            session_spent_usd=self.session_spent_usd,
            pause=self.pause,
            ask=self._ask,
        ):
            self._record(event)
        if self.done is None:  # the loop promises a Done; never leave the page waiting
            self._record(Done(reason="error", messages=heal(self.messages)))


def _fingerprint(path: os.PathLike[str] | str) -> tuple[tuple[str, int, int], ...]:
    """What changes when anything in a session directory changes (names, sizes, times)."""
    with os.scandir(path) as entries:
        return tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries))


def session_stamp(trajectory: Trajectory) -> tuple[tuple[str, int, int], ...]:
    """What changes when the session's files change (another process appends an event)."""
    try:
        return _fingerprint(trajectory.path)
    except OSError:
        return ()


def _listing_stamp(root: Path) -> tuple[tuple[str, int, int], ...]:
    """What changes when any session's event file under ``root`` changes. Raises OSError."""
    stamp = []
    with os.scandir(root) as entries:
        for e in entries:
            if e.is_dir():
                with contextlib.suppress(OSError):
                    st = os.stat(os.path.join(e.path, EVENTS_FILE))
                    stamp.append((e.name, st.st_size, st.st_mtime_ns))
    return tuple(sorted(stamp))


_T = TypeVar("_T")
_SAVED: OrderedDict[str, tuple[tuple, Any]] = OrderedDict()
_LISTED: OrderedDict[str, tuple[tuple, Any]] = OrderedDict()
#: Sessions whose events the app keeps in memory (read from disk, or of finished runs): the
#: bound of its memory, as screenshots stay on disk (files shown as they are, never base64).
CACHED_SESSIONS = max(1, int(os.environ.get("COMPUTER_USE_CACHED_SESSIONS") or 8))


def _reuse(
    cache: OrderedDict[str, tuple[tuple, Any]], key: str, stamp: tuple, compute: Callable[[], _T]
) -> _T:
    """``compute()``, or its last result for ``key`` while ``stamp`` is unchanged (LRU)."""
    with _RUNS_LOCK:
        cached = cache.get(key)
        if cached is not None and cached[0] == stamp:
            cache.move_to_end(key)
            return cached[1]
    value = compute()
    with _RUNS_LOCK:
        cache[key] = (stamp, value)
        cache.move_to_end(key)
        while len(cache) > CACHED_SESSIONS:
            cache.popitem(last=False)
    return value


def saved_events(trajectory: Trajectory) -> list[Event]:
    """A saved session's events, read from disk once and reused until the files change;
    screenshots stay on disk (``ToolResultEvent.image_file``), so a cached session costs the
    app its text only. Rendering reruns on every click: reading it each time would be slow.
    """
    try:
        stamp = _fingerprint(trajectory.path)
    except OSError:
        return []
    return _reuse(_SAVED, str(trajectory.path), stamp, lambda: trajectory.events(images=False))


def session_events(trajectory: Trajectory) -> list[Event]:
    """A session's saved events (``saved_events``) for a session no run of this app is at
    work in; a run that the app's death cut off (no Done, nobody holding the session's run
    lock) is closed first, as ``interrupted`` (``Trajectory.close_interrupted``)."""
    events = saved_events(trajectory)
    if events and not isinstance(events[-1], Done) and active_run(trajectory.id) is None:
        if trajectory.close_interrupted() is not None:
            events = saved_events(trajectory)
    return events


def session_list(root: Path) -> list[TrajectoryInfo]:
    """``list_trajectories(root)``, recomputed only when a session file changed.

    Listing reads every session's event file (for its step count); the sidebar shows the list
    on every rerun, so it is reused while nothing on disk moved.
    """
    try:
        stamp = _listing_stamp(root)
    except OSError:  # no sessions yet, or the folder is unusable (shown when saving)
        return []
    return _reuse(_LISTED, str(root), stamp, lambda: list_trajectories(root))


_GATES: dict[Path, PauseGate] = {}


def desktop_gate() -> PauseGate:
    """The person's hold on this app's desktop (pause.py): every run on it pauses while it
    is taken. Kept in the desktop's control file, which the combined page's toggle sets too."""
    path = control_file()
    with _RUNS_LOCK:
        return _GATES.setdefault(path, PauseGate(path))


_RUNS: dict[str, SessionRun] = {}
_RUNS_LOCK = threading.Lock()
_SEND_LOCK = threading.Lock()


def _stop_every_run() -> None:
    """The shutdown began (agent/shutdown.py): every run stops, none waited for here."""
    with _RUNS_LOCK:
        runs = list(_RUNS.values())
    for run in runs:
        run.request_stop()


shutdown.on_begin(_stop_every_run)
_WATCHING = threading.Event()


def _watch_server_stop(interval: float = 0.1) -> None:
    """Begin the shutdown as soon as the Streamlit server stops (its SIGTERM/SIGINT handler
    stops the runtime; a script thread cannot install a handler of its own): the runs must
    stop before the desktop goes, and no API call may start meanwhile."""
    from streamlit.runtime import Runtime, RuntimeState

    ending = (RuntimeState.STOPPING, RuntimeState.STOPPED)
    while not shutdown.begun():
        if Runtime.exists():
            runtime = Runtime.instance()
            if type(runtime) is Runtime and runtime.state in ending:  # not AppTest's mock
                shutdown.begin()
                return
        time.sleep(interval)


def watch_server_stop() -> None:
    """Start the watcher of ``_watch_server_stop`` (once per process)."""
    if not _WATCHING.is_set():
        _WATCHING.set()
        threading.Thread(target=_watch_server_stop, name="server-stop", daemon=True).start()


def get_run(session_id: str) -> SessionRun | None:
    """The latest run of a session in this process (running or finished), if any."""
    with _RUNS_LOCK:
        return _RUNS.get(session_id)


def events_stamp(trajectory: Trajectory) -> tuple[int, int] | None:
    """(size, mtime) of the session's events file (None: unreadable)."""
    try:
        st = os.stat(trajectory.path / EVENTS_FILE)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def current_run(trajectory: Trajectory) -> SessionRun | None:
    """The session's run in this process while what it holds is the whole session: a
    finished run whose session another process has gone on with since (the task API, the
    chat) is forgotten, so that the session is read from disk again."""
    run = get_run(trajectory.id)
    if run is None or run.running or run.file_stamp is None:
        return run
    if run.file_stamp != events_stamp(trajectory):
        forget(trajectory.id)
        return None
    return run


def active_run(session_id: str) -> SessionRun | None:
    run = get_run(session_id)
    return run if run is not None and run.running else None


def forget(session_id: str) -> None:
    """Drop a finished run (its events stay on disk)."""
    with _RUNS_LOCK:
        run = _RUNS.get(session_id)
        if run is not None and not run.running:
            del _RUNS[session_id]


def stop_all(timeout: float = 30.0) -> None:
    """Stop every running agent and its tools (Reset, shutdown)."""
    with _RUNS_LOCK:
        runs = list(_RUNS.values())
        held = [tools for _, tools in _TOOLS.values()]
        _TOOLS.clear()
    for run in runs:
        if run.running:
            run.stop(timeout)
    for tools in held:
        _close_tools(tools)


#: One tool set per session, kept across the user's messages, so that bash keeps its cwd and
#: variables ("state is persistent across command calls and discussions with the user"). A
#: session whose tool version changes gets a new set and the old one is stopped.
_TOOLS: dict[str, tuple[tuple[Any, ...], ToolCollection]] = {}


def session_tools(session_id: str, config: LoopConfig) -> ToolCollection:
    """The session's tool set for ``config`` (built on first use)."""
    key = (config.tool_version, config.extra_tools)
    with _RUNS_LOCK:
        held = _TOOLS.get(session_id)
        if held is not None and held[0] == key:
            return held[1]
        tools = build_tools(config)
        _TOOLS[session_id] = (key, tools)
    if held is not None:
        _close_tools(held[1])
    return tools


def _close_tools(tools: ToolCollection, timeout: float = 15.0) -> None:
    """Stop a tool set (bash's process group) from any thread, running loop or not."""
    thread = threading.Thread(target=lambda: asyncio.run(tools.stop()), daemon=True)
    thread.start()
    thread.join(timeout)


def with_user_message(
    messages: list[dict[str, Any]], text: str, *, interrupted: bool
) -> list[dict[str, Any]]:
    """The history to send: ``text`` appended as the user's turn, healed.

    After an interruption the note comes first, as in the reference; healing merges it into
    the user turn that answers the stopped tool calls, so roles still alternate.
    """
    blocks = [{"type": "text", "text": INTERRUPT_TEXT}] if interrupted else []
    blocks.append({"type": "text", "text": text})
    return heal([*messages, {"role": "user", "content": blocks}])


def send_message(
    trajectory: Trajectory,
    config: LoopConfig,
    text: str,
    *,
    tools: Any = None,
    stop_timeout: float = 30.0,
    stop_others: bool = False,
    owner: str = CHAT_APP,
    listeners: Sequence[Callable[[Event], None]] = (),
) -> SessionRun:
    """Send ``text`` in a session; a run in progress in it is interrupted first.

    One agent per desktop: while another session's run uses the desktop this raises
    OtherSessionRunning (the page asks whether to stop it) unless ``stop_others``, which stops
    it first; a run of another process (the CLI) raises DesktopBusy. Raises ValueError for a
    message with nothing but whitespace (the API refuses it). Nothing is recorded then.
    """
    if is_blank(text):  # before anything stops: an empty message changes nothing
        raise ValueError("the message is empty")
    with _SEND_LOCK:  # two tabs sending at once: one after the other, never two runs
        return _send(
            trajectory,
            config,
            text,
            tools=tools,
            stop_timeout=stop_timeout,
            stop_others=stop_others,
            owner=owner,
            listeners=listeners,
        )


class OtherSessionRunning(DesktopBusy):
    """Another session of this app has an agent on the desktop (``run``)."""

    def __init__(self, run: SessionRun) -> None:
        self.run = run
        title = run.trajectory.title.strip().splitlines()
        label = f"session {title[0][:60]!r}" if title else f"session {run.trajectory.id}"
        super().__init__(display_of(getattr(run.tools, "tools", ())), label)


def runs_elsewhere(session_id: str | None) -> list[SessionRun]:
    """The running agents of sessions other than ``session_id`` (at most one, by design)."""
    with _RUNS_LOCK:
        return [r for r in _RUNS.values() if r.running and r.trajectory.id != session_id]


def _send(
    trajectory: Trajectory,
    config: LoopConfig,
    text: str,
    *,
    tools: Any,
    stop_timeout: float,
    stop_others: bool,
    owner: str = CHAT_APP,
    listeners: Sequence[Callable[[Event], None]] = (),
) -> SessionRun:
    if shutdown.begun():
        raise RuntimeError("the app is shutting down; send it again once it is back")
    watch_server_stop()
    others = runs_elsewhere(trajectory.id)
    if others and not stop_others:
        raise OtherSessionRunning(others[0])
    for other in others:
        if other.stop(stop_timeout) is None:
            raise RuntimeError(
                f"the agent of session {other.trajectory.id} did not stop; try again"
            )
    with _RUNS_LOCK:
        previous = _RUNS.get(trajectory.id)
    if previous is not None and not previous.running:
        previous = current_run(trajectory)  # None when another process went on meanwhile
    if previous is not None and previous.running and previous.stop(stop_timeout) is None:
        raise RuntimeError("the running agent did not stop; try again")
    if tools is None:
        tools = session_tools(trajectory.id, config)
    if config.lock_desktop:  # an agent of another process (the CLI): say so before recording
        lock = DesktopLock(display_of(getattr(tools, "tools", ())))
        holder = lock.holder()
        if holder is not None:
            raise DesktopBusy(lock.display, holder)
    label = trajectory.title.strip().splitlines()
    config = replace(
        config, run_label=f"{owner} session {label[0][:60] if label else trajectory.id}"
    )
    if previous is not None and previous.done is not None:
        history, prior = previous.history or previous.done.messages, previous.snapshot()[1]
    else:  # Trajectory.messages() would read the whole session from disk a second time
        prior = session_events(trajectory)
        history = rebuild_messages(prior)
    if previous is None or previous.history is None:
        history = trajectory.load_images(history)  # the loop sends them: read from disk
    # Interrupted: stopped just now, earlier with the Stop button, or cut off by the app's
    # end (the model should know).
    last_done = next((e for e in reversed(prior) if isinstance(e, Done)), None)
    interrupted = last_done is not None and last_done.reason in ("stopped", "interrupted")
    messages = with_user_message(history, text, interrupted=interrupted)
    user = UserMessage(text=text)
    spent = sum(e.cost_usd or 0.0 for e in prior if isinstance(e, Usage))
    run = SessionRun(
        trajectory,
        config,
        messages,
        prior_events=prior,
        tools=tools,
        session_spent_usd=spent,
        pause=desktop_gate(),
        owner=owner,
    )
    run.listeners.extend(listeners)
    run._record(user)
    run.run_start = len(run.events) - 1
    with _RUNS_LOCK:
        _RUNS[trajectory.id] = run
        _prune()
    return run.start()


#: Finished runs kept in memory (their events render without a disk read); the rest is on disk.
KEEP_FINISHED = max(1, CACHED_SESSIONS // 2)


def _prune() -> None:
    finished = sorted(
        (r for r in _RUNS.values() if not r.running), key=lambda r: r.started_at, reverse=True
    )
    for run in finished:  # a run is starting: it holds its own history, they let theirs go
        run.history = None
    for run in finished[KEEP_FINISHED:]:
        del _RUNS[run.trajectory.id]
        held = _TOOLS.pop(run.trajectory.id, None)
        if held is not None:  # nobody will send in that session soon: free its shell
            threading.Thread(target=_close_tools, args=(held[1],), daemon=True).start()
