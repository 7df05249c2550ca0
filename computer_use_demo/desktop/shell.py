"""A persistent bash session: one long-lived ``/bin/bash`` in its own process group, fed one
command at a time (the physical half of the bash tool; the desktop server keeps one per session
id, the in-process backend one per tool).

How a command runs (and why):

- The command is written to a file in a private 0700 directory and the shell is sent
  ``. FILE </dev/null`` followed by two ``printf`` calls that print a per-session sentinel (with
  ``$?``) on stdout and on stderr. Sourcing keeps cwd, variables and functions in the one shell,
  while a syntax error or an unbalanced quote only fails the ``.`` command instead of leaving the
  shell waiting for more input; ``</dev/null`` gives commands that read stdin (``cat``,
  ``read``, a REPL) an immediate EOF instead of a hang.
- Both pipes are read as data arrives (no polling interval) until each shows the sentinel. Only
  a bounded head (enough for the tools' 16,000-character limit) and a small tail window (to spot
  the sentinel) are kept, so megabytes of output finish quickly in constant memory.
- The shell runs in its own process group, so restart, stop, a timeout or a cancelled call end
  bash and everything it started (background jobs included).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shlex
import shutil
import signal
import tempfile
import threading
import weakref
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import ShellError
from .processes import kill_group, signal_group, spawn


@dataclass(frozen=True)
class ShellOutput:
    """What one command printed (each stream at most a bounded head) and its exit status."""

    output: str
    error: str
    exit_code: int | None


DEFAULT_TIMEOUT = 120.0
#: Characters of each stream a caller can be shown at most (the tools' 16,000-character limit).
KEEP_CHARS = 16_000
#: Bytes of each stream kept per command: every UTF-8 character is at most 4 bytes, so this
#: always decodes to more than KEEP_CHARS characters when the output is longer (the caller
#: truncates it, with its own note).
HEAD_BYTES = 4 * (KEEP_CHARS + 1)
READ_CHUNK = 1 << 20
#: Variables that make common tools behave without a terminal (no pager, no prompts, no colour).
NON_INTERACTIVE_ENV = {
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "MANPAGER": "cat",
    "SYSTEMD_PAGER": "",
    "TERM": "dumb",
    "GIT_TERMINAL_PROMPT": "0",
    "DEBIAN_FRONTEND": "noninteractive",
}
T = TypeVar("T")
RESTART_HINT = "the tool must be restarted (call it with `restart: true`)"


def shell_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of the shell: ours (DISPLAY etc.) plus the non-interactive settings."""
    env = dict(os.environ if base is None else base)
    env.update(NON_INTERACTIVE_ENV)
    return env


class _Capture:
    """One stream of one command: a bounded head, plus a tail window to find the sentinel."""

    __slots__ = ("done", "head", "marker", "rest", "returncode", "size", "tail")

    def __init__(self, marker: bytes) -> None:
        self.marker = marker
        self.head = bytearray()
        self.size = 0  # bytes of output seen so far (excluding the sentinel once found)
        self.tail = b""
        self.done = False
        self.returncode: int | None = None
        self.rest = b""  # what came after the sentinel (late output of background jobs)

    def feed(self, chunk: bytes) -> bool:
        """Take ``chunk``; True once the sentinel line has been seen."""
        window = self.tail + chunk
        start = self.size - len(self.tail)  # stream offset of window[0]
        at = window.find(self.marker)
        while at != -1:
            digits_from = at + len(self.marker)
            newline = window.find(b"\n", digits_from)
            if newline == -1:
                break  # the sentinel line is still arriving; the tail keeps it
            digits = window[digits_from:newline]
            if not digits or digits.isdigit():
                end = start + at
                if end > self.size:
                    self._keep(chunk[: end - self.size])
                del self.head[end:]
                self.size = end
                self.returncode = int(digits) if digits else None
                self.rest = window[newline + 1 :]
                self.done = True
                return True
            at = window.find(self.marker, at + 1)
        self._keep(chunk)
        self.size += len(chunk)
        self.tail = window[-(len(self.marker) + 8) :]
        return False

    def _keep(self, data: bytes) -> None:
        room = HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]

    def text(self) -> str:
        """The output: decoded, one trailing newline off; longer than KEEP_CHARS characters
        when more was printed (the caller truncates)."""
        text = bytes(self.head[: self.size]).decode(errors="replace")
        if self.size <= HEAD_BYTES and text.endswith("\n"):
            text = text[:-1]
        return text


class _LoopThread:
    """A private event loop in a daemon thread, where the shell's pipes live.

    asyncio ties a subprocess to the loop that started it, but callers come from many loops
    (the UI runs each agent turn in a fresh ``asyncio.run`` in its own thread). Running the
    session here lets one shell outlive any caller's loop.
    """

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self._thread.start()

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            self.loop.close()

    async def call(self, coro: Coroutine[Any, Any, T], on_cancel: Callable[[], None]) -> T:
        """Await ``coro`` on this loop; if the caller is cancelled, ``on_cancel`` runs first."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            on_cancel()
            future.cancel()
            raise

    def close(self) -> None:
        with contextlib.suppress(RuntimeError):  # already closed
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


def _abandon(proc: asyncio.subprocess.Process, runner: _LoopThread, directory: str) -> None:
    """A session dropped without stop() (or alive at exit) still ends its processes."""
    if proc.returncode is None:  # once bash is gone its pid may be reused: never signal it
        signal_group(proc.pid, signal.SIGKILL)
    shutil.rmtree(directory, ignore_errors=True)

    async def reap_and_close() -> None:
        try:  # let asyncio see the exit, so no transport is left half-open
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), timeout=1.0)
        finally:
            runner.loop.stop()

    coro = reap_and_close()
    try:
        asyncio.run_coroutine_threadsafe(coro, runner.loop)
    except RuntimeError:  # the loop is already closed
        coro.close()


class BashSession:
    """One long-lived ``/bin/bash`` in its own process group, fed one command at a time.

    Public coroutines may be awaited from any event loop or thread; the work itself happens on
    the session's own loop (``_LoopThread``). Methods starting with ``_`` run on that loop.
    """

    def __init__(
        self, *, timeout: float = DEFAULT_TIMEOUT, env: Mapping[str, str] | None = None
    ) -> None:
        self.timeout = timeout
        self._env = shell_env(env)
        self._runner: _LoopThread | None = None
        self._start_lock = threading.Lock()
        self._proc: asyncio.subprocess.Process | None = None
        self._exited: asyncio.Future[None] | None = None
        self._pidfd: int | None = None
        self._finalizer: weakref.finalize | None = None
        self._dir: str | None = None
        self._file = self._error_prefix = ""
        self._line = b""
        #: One command at a time; binds to the session's loop on first use.
        self._lock = asyncio.Lock()
        #: Why the session can no longer run commands (timed out, exited...), if it cannot.
        self._broken: str | None = None
        self._leftover = (b"", b"")
        token = secrets.token_hex(8)
        # The sentinel never appears literally in what the shell is sent (so `set -x`/`set -v`
        # traces cannot fake it): printf assembles it from two arguments.
        self._marker = f"__bash_tool_{token}__".encode()
        self._fmt_args = f"bash_tool {token}"
        #: The exit status of the last command that completed (not shown to the model).
        self.last_returncode: int | None = None

    @property
    def _timeout(self) -> float:
        """The reference's name for ``timeout`` (its tests shorten it through this)."""
        return self.timeout

    @_timeout.setter
    def _timeout(self, seconds: float) -> None:
        self.timeout = seconds

    @property
    def broken(self) -> str | None:
        """Why the session can no longer run commands, or None while it can."""
        return self._broken

    @property
    def pid(self) -> int | None:
        """The shell's pid (also its process group id), once started."""
        return self._proc.pid if self._proc else None

    async def start(self) -> None:
        """Start the shell (idempotent)."""
        await self._runner_().call(self._start(), on_cancel=self._on_cancel)

    async def run(self, command: str) -> ShellOutput:
        """Run ``command`` in the shell and return its stdout and stderr."""
        if self._broken is not None:
            raise ShellError(self._broken)
        return await self._runner_().call(self._run(command), on_cancel=self._on_cancel)

    async def stop(self) -> None:
        """End bash and every process in its group; the session cannot be used afterwards."""
        self._broken = self._broken or f"bash was stopped; {RESTART_HINT}"
        runner = self._runner
        if runner is None:
            return
        self._runner = None
        try:
            await runner.call(self._shut_down(), on_cancel=self._on_cancel)
        finally:
            runner.close()
            if self._finalizer is not None:
                self._finalizer.detach()

    def _runner_(self) -> _LoopThread:
        with self._start_lock:
            if self._runner is None:
                self._runner = _LoopThread(name="bash-session")
            return self._runner

    def _on_cancel(self) -> None:
        """The caller was cancelled (the user pressed stop): end everything right now."""
        self._broken = self._broken or (
            f"the command was interrupted and bash was stopped; {RESTART_HINT}"
        )
        if self._proc is not None and self._proc.returncode is None:
            signal_group(self._proc.pid, signal.SIGKILL)

    # --- everything below runs on the session's loop ------------------------------------------

    async def _shut_down(self) -> None:
        """End the group, then let a command still running see it and answer (its caller
        would otherwise wait forever on a loop that is about to stop)."""
        await self._terminate(None)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(2.0), self._lock:
                pass

    async def _start(self) -> None:
        async with self._lock:
            await self._spawn()

    async def _spawn(self) -> None:
        if self._proc is not None:
            return
        if self._broken is not None:
            raise ShellError(self._broken)
        self._dir = tempfile.mkdtemp(prefix="bash-tool-")  # mode 0700
        self._file = os.path.join(self._dir, "command")
        quoted = shlex.quote(self._file)
        # `builtin`: a function the model names `printf` or `.` cannot break the protocol.
        self._line = (
            f"builtin . {quoted} </dev/null; "
            f"builtin printf '__%s_%s__%d\\n' {self._fmt_args} $?; "
            f"builtin printf '__%s_%s__\\n' {self._fmt_args} >&2\n"
        ).encode()
        self._error_prefix = f"{self._file}: "
        self._proc = await spawn(
            ["/bin/bash", "--noprofile", "--norc"],
            stdin=asyncio.subprocess.PIPE,
            env=self._env,
        )
        assert self._runner is not None
        self._finalizer = weakref.finalize(self, _abandon, self._proc, self._runner, self._dir)
        self._watch_exit()

    def _watch_exit(self) -> None:
        """Resolve ``_exited`` the moment bash exits (a pidfd): ``Process.wait()`` would also
        wait for the pipes to close, which never happens while a background job holds them."""
        assert self._proc is not None
        loop = asyncio.get_running_loop()
        exited = loop.create_future()
        self._exited = exited
        try:
            self._pidfd = os.pidfd_open(self._proc.pid)
        except ProcessLookupError:
            exited.set_result(None)
            return
        except (AttributeError, OSError):
            return  # no pidfd (old kernel): an exit is then noticed through EOF or the timeout

        def ready() -> None:
            loop.remove_reader(pidfd)
            if not exited.done():
                exited.set_result(None)

        pidfd = self._pidfd
        loop.add_reader(pidfd, ready)

    async def _run(self, command: str) -> ShellOutput:
        async with self._lock:
            await self._spawn()
            await self._check_usable()
            assert self._proc is not None and self._proc.stdin is not None
            _write(self._file, command)  # a few µs on a local tmpfs/disk, on our own loop
            out, err = _Capture(self._marker), _Capture(self._marker)
            try:
                async with asyncio.timeout(self.timeout):
                    self._proc.stdin.write(self._line)
                    await self._collect(out, err)
            except TimeoutError:
                await self._terminate(
                    f"timed out: bash has not returned in {self.timeout:g} seconds and must be "
                    "restarted (call the tool with `restart: true`); it was stopped, with "
                    "everything it started"
                )
                raise ShellError(self._broken_message(out, err)) from None
            except asyncio.CancelledError:
                self._on_cancel()
                self._release()
                raise
            self.last_returncode = out.returncode
            self._leftover = (out.rest, err.rest)
            return ShellOutput(
                output=out.text(), error=self._clean(err.text()), exit_code=out.returncode
            )

    async def _collect(self, out: _Capture, err: _Capture) -> None:
        """Read both pipes until each shows its sentinel; raise ShellError if the shell ends."""
        assert self._proc is not None and self._exited is not None
        stdout, stderr = self._proc.stdout, self._proc.stderr
        assert stdout is not None and stderr is not None
        pumps = [
            asyncio.ensure_future(_pump(stdout, out, self._leftover[0])),
            asyncio.ensure_future(_pump(stderr, err, self._leftover[1])),
        ]
        self._leftover = (b"", b"")
        try:
            waiting: set[asyncio.Future[Any]] = {*pumps, self._exited}
            while True:
                if all(p.done() and p.result() for p in pumps):
                    return  # both sentinels seen: the command is complete
                if self._exited.done() or all(p.done() for p in pumps):
                    await self._on_shell_ended(pumps, out, err)  # raises
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                waiting -= done
        finally:
            for p in pumps:
                p.cancel()

    async def _on_shell_ended(
        self, pumps: list[asyncio.Future[bool]], out: _Capture, err: _Capture
    ) -> None:
        """The shell exited, or closed a pipe, before the sentinel: report it, clean up."""
        assert self._exited is not None
        if not self._exited.done() and not any(p.done() and p.result() for p in pumps):
            # Both pipes closed: bash is most likely exiting right now.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._exited), timeout=1.0)
        exited = self._exited.done()
        await self._terminate(None)  # also ends background jobs still holding the pipes
        self._broken = self._broken or (  # stopped: say so, not the exit it caused
            self._exit_message()
            if exited
            else f"bash closed its stdout or stderr and was stopped; {RESTART_HINT}"
        )
        # The group is gone, so the pipes reach EOF: collect what was printed before the end.
        await asyncio.wait(pumps, timeout=1.0)
        raise ShellError(self._broken_message(out, err))

    async def _check_usable(self) -> None:
        if self._broken is None and self._exited is not None and self._exited.done():
            await self._terminate(None)  # bash died between calls; end what it left behind
            self._broken = self._exit_message()
        if self._broken is not None:
            raise ShellError(self._broken)

    def _exit_message(self) -> str:
        code = self._proc.returncode if self._proc else None
        return f"bash has exited with returncode {code}; {RESTART_HINT}"

    def _broken_message(self, out: _Capture, err: _Capture) -> str:
        message = self._broken or RESTART_HINT
        parts = [("stdout", out.text()), ("stderr", self._clean(err.text()))]
        printed = "\n".join(f"{name} before that:\n{text}" for name, text in parts if text)
        return f"{message}\n{printed}" if printed else message

    def _clean(self, stderr: str) -> str:
        # Bash names the sourced file in its messages; say `bash:` like a plain shell would.
        return stderr.replace(self._error_prefix, "bash: ") if stderr else stderr

    async def _terminate(self, reason: str | None) -> None:
        """End the whole group (SIGTERM, then SIGKILL) and mark the session unusable."""
        self._broken = self._broken or reason
        if self._proc is not None:
            await kill_group(self._proc)
        self._release()

    def _release(self) -> None:
        """Give back what the shell held (the loop thread lives on until stop())."""
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None


async def _pump(stream: asyncio.StreamReader, capture: _Capture, leftover: bytes) -> bool:
    """Feed ``stream`` into ``capture`` until the sentinel (True) or EOF (False)."""
    if leftover and capture.feed(leftover):
        return True
    while True:
        chunk = await stream.read(READ_CHUNK)
        if not chunk:
            return False
        if capture.feed(chunk):
            return True


def _write(path: str, command: str) -> None:
    try:
        data = command.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate from a direct call
        data = command.encode("utf-8", "replace")
    with open(path, "wb") as f:
        f.write(data)
