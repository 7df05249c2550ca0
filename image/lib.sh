#!/usr/bin/env bash
# Shared by the desktop scripts (sourced, not run): configuration, process tracking per
# display, and THE one wait helper every part uses to decide it is up or to fail loudly.
#
# Every process a part starts carries COMPUTER_USE_DESKTOP_MARK=<marker> in its environment, and
# so does everything launched from it (apps started from the panel, shells in an xterm):
# stopping the desktop ends exactly those processes, found by that marker, and nothing else.
#
# Private by default: the state folder (pid files, logs, the X authority cookie) is ours alone
# (0700, refused when someone else owns it), logs are 0600, the display needs the cookie, and
# no part gets a secret from our environment (only the chat app keeps the provider keys).

DISPLAY_NUM="${DISPLAY_NUM:-1}"
WIDTH="${WIDTH:-1024}"
HEIGHT="${HEIGHT:-768}"
VNC_PORT="${VNC_PORT:-5900}"
NOVNC_PORT="${NOVNC_PORT:-6080}"
BIND_ADDR="${BIND_ADDR:-0.0.0.0}"
READY_TIMEOUT="${READY_TIMEOUT:-30}"
# The Origin the door (computer_use_demo/door/server.py) sends to websockify, the only one websockify accepts.
DOOR_ORIGIN="http://computer-use-door.invalid"
IMAGE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

log() { printf '[desktop :%s] %s\n' "$DISPLAY_NUM" "$*" >&2; }

# The default state folder: in $XDG_RUNTIME_DIR (the user's private runtime folder) when there
# is one of ours, else a folder in /tmp named for our uid (checked below: /tmp is shared).
default_state_dir() {
    if [[ -n "${XDG_RUNTIME_DIR:-}" && -d "$XDG_RUNTIME_DIR" && -O "$XDG_RUNTIME_DIR" ]]; then
        echo "$XDG_RUNTIME_DIR/computer-use-$DISPLAY_NUM"
    else
        echo "/tmp/computer-use-$(id -u)-$DISPLAY_NUM"
    fi
}

# private_dir DIR [MODE]: make DIR (MODE, default 0700), or make sure the one there is a real
# folder that we own (then MODE too). Anything else is refused: a folder someone else created
# in /tmp could be used to read the X cookie and logs or to plant pid files. (0711 is the stack's
# top folder when the desktop runs as a user of its own: it may pass through to its own folder
# in it, but list and change nothing there.)
private_dir() {
    local dir="$1" mode="${2:-0700}" owner
    if [[ ! -e "$dir" && ! -L "$dir" ]]; then
        (umask 077 && mkdir -p "$dir") || {
            log "ERROR: cannot create the state folder $dir"
            exit 1
        }
    fi
    if [[ -L "$dir" || ! -d "$dir" ]]; then
        log "ERROR: the state folder $dir is not a plain folder (a symbolic link or a file):" \
            "refusing to use it. Remove it, or set STATE_DIR to a folder of your own."
        exit 1
    fi
    if [[ ! -O "$dir" ]]; then
        owner="$(stat -c '%U (uid %u)' "$dir" 2>/dev/null || echo 'someone else')"
        log "ERROR: the state folder $dir belongs to $owner, not to you ($(id -un)," \
            "uid $(id -u)): refusing to start, another user could read or replace the" \
            "desktop's files there. Remove it, or set STATE_DIR to a folder of your own."
        exit 1
    fi
    # The split stack's top folder stays 0711 when a script runs on it alone (start_webapp.sh
    # again): 0700 would lock the desktop's user out of its own folder inside.
    [[ -n "${2:-}" || "$(stat -c %a "$dir")" != 711 ]] || mode=0711
    chmod "$mode" "$dir"
}

STATE_DIR="${STATE_DIR:-$(default_state_dir)}"
private_dir "$STATE_DIR" "${STATE_MODE:-}"
DESKTOP_MARKER="COMPUTER_USE_DESKTOP_MARK=:${DISPLAY_NUM}@${STATE_DIR}"
export DISPLAY=":$DISPLAY_NUM"
# Every X client we start (xdotool, screenshots, x11vnc, mutter, tint2, the apps, the chat
# app's tools) finds the display's cookie here; Xvfb admits no client without it.
export XAUTHORITY="$STATE_DIR/Xauthority"

# Whether the environment variable $1 holds a secret: the rule of is_secret_env in
# computer_use_demo/redaction.py (tests/test_redaction.py checks that both agree).
is_secret_env() {
    case "${1^^}" in
        ANTHROPIC_API_KEY | ANTHROPIC_AUTH_TOKEN | ANTHROPIC_VERTEX_ACCESS_TOKEN | \
            AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY | AWS_SESSION_TOKEN | AWS_SECURITY_TOKEN | \
            AWS_BEARER_TOKEN_BEDROCK | GOOGLE_APPLICATION_CREDENTIALS | GOOGLE_API_KEY | \
            CLOUDSDK_AUTH_ACCESS_TOKEN_FILE | ACCESS_TOKEN | VNC_PASSWORD | API_KEY | \
            *_API_KEY | *_TOKEN | *_PASSWORD | *_SECRET*)
            return 0
            ;;
    esac
    return 1
}

# `env` arguments that drop every secret variable of our environment.
secret_unsets() {
    local name
    for name in $(compgen -e); do
        if is_secret_env "$name"; then printf -- '-u\n%s\n' "$name"; fi
    done
}

# The host to probe for a port bound to BIND_ADDR (a wildcard bind answers on loopback).
probe_host() {
    case "$BIND_ADDR" in
        0.0.0.0 | "" | "*") echo 127.0.0.1 ;;
        ::) echo ::1 ;;
        *) echo "$BIND_ADDR" ;;
    esac
}

# True if PID is alive and carries this desktop's marker (so a reused pid never counts).
is_ours() {
    alive "$1" && grep -qzxF "$DESKTOP_MARKER" "/proc/$1/environ" 2>/dev/null
}

# True if PID exists and is not a zombie.
alive() {
    local stat
    [[ -n "$1" ]] && stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

part_pid() { cat "$STATE_DIR/$1.pid" 2>/dev/null || true; }

part_running() { is_ours "$(part_pid "$1")"; }

# skip_if_running NAME: true (and says so) if NAME is already up, so its start is skipped.
# Under the supervisor (image/part.sh) never: it starts a part only when it is not running.
skip_if_running() {
    [[ -z "${SUPERVISED_PART:-}" ]] || return 1
    if part_running "$1"; then
        log "$1 already running (pid $(part_pid "$1"))"
        return 0
    fi
    return 1
}

# track_webapp: from here on, track the chat app's parts, not the desktop's. The app is not
# part of the desktop: Reset in the app stops and restarts the desktop, which must not take
# the app down. So its processes carry a marker of their own, and their pid files and logs
# live apart (the desktop's state folder stays in DESKTOP_STATE_DIR).
track_webapp() {
    DESKTOP_STATE_DIR="${DESKTOP_STATE_DIR:-$STATE_DIR}"
    STATE_DIR="$STATE_DIR/webapp"
    DESKTOP_MARKER="COMPUTER_USE_WEBAPP=:${DISPLAY_NUM}@${STATE_DIR}"
}

# start_part [--same-group] [--keep-secrets] NAME CMD...: run CMD, logging to NAME.log (0600),
# in a session of its own (or, with --same-group, in the caller's process group, so signalling
# the group ends it), without the secrets of our environment (--keep-secrets: the chat app,
# which needs the provider's key; its tools drop them again, computer_use_demo/tools/run.py).
start_part() {
    local session=(setsid) unsets
    mapfile -t unsets < <(secret_unsets)
    while [[ "$1" == --* ]]; do
        case "$1" in
            --same-group) session=() ;;
            --keep-secrets) unsets=() ;;
        esac
        shift
    done
    local name="$1"
    shift
    if [[ "$name" == "${SUPERVISED_PART:-}" ]]; then
        # Under the supervisor (image/part.sh): in the foreground, in place of this shell (its
        # process group, its log); the pid file names the part itself.
        echo "$BASHPID" >"$STATE_DIR/$name.pid"
        # Reap this shell's own children first (the process substitution above): the part it
        # becomes would never wait for them, and they would stay zombies.
        wait 2>/dev/null || true
        exec env "${unsets[@]}" "$DESKTOP_MARKER" "$@" </dev/null
    fi
    (umask 077 && : >"$STATE_DIR/$name.log")
    env "${unsets[@]}" "$DESKTOP_MARKER" "${session[@]}" "$@" >"$STATE_DIR/$name.log" 2>&1 </dev/null &
    local pid=$!
    # The child carries the marker only once env has exec'd: record its pid from then on, so
    # that wait_for never takes a child that is still starting for one that died.
    while alive "$pid" && ! is_ours "$pid"; do sleep 0.01; done
    echo "$pid" >"$STATE_DIR/$name.pid"
}

# fail_part NAME MESSAGE: say what did not come up, show its own log, exit non-zero.
fail_part() {
    local name="$1"
    log "ERROR: $2"
    if [[ -s "$STATE_DIR/$name.log" ]]; then
        log "last lines of $STATE_DIR/$name.log:"
        tail -n 40 "$STATE_DIR/$name.log" >&2
    fi
    exit 1
}

# wait_for NAME CHECK...: the one wait helper. Runs CHECK until it succeeds; fails (with the
# part's log) when the part's process dies or READY_TIMEOUT seconds pass.
wait_for() {
    local name="$1"
    shift
    local deadline=$((SECONDS + READY_TIMEOUT))
    while ! "$@" >/dev/null 2>&1; do
        if [[ -f "$STATE_DIR/$name.pid" ]] && ! part_running "$name"; then
            fail_part "$name" "$name exited before it was ready"
        fi
        if ((SECONDS >= deadline)); then
            fail_part "$name" "$name not ready after ${READY_TIMEOUT}s (waiting for: $*)"
        fi
        sleep 0.1
    done
    # Something else may answer in its place (a port taken by another program).
    if [[ -f "$STATE_DIR/$name.pid" ]] && ! part_running "$name"; then
        fail_part "$name" "$name exited (is its port or display taken by another program?)"
    fi
}

# Checks for wait_for.
display_answers() { xdpyinfo -display ":$DISPLAY_NUM" >/dev/null 2>&1; }

port_answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# A unix socket answers when a connection to it is accepted.
socket_answers() {
    [[ -S "$1" ]] && "${PYTHON:-python3}" -c \
        'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' "$1"
}

window_with_class() { xdotool search --class "$1" >/dev/null 2>&1; }

wm_running() {
    # A running EWMH window manager points the root window at a check window that carries
    # its name (the property can outlive a dead WM, the window cannot).
    local id
    id="$(xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | awk '/window id/ {print $NF}')"
    [[ -n "$id" ]] && xprop -id "$id" _NET_WM_NAME 2>/dev/null | grep -q '='
}

# Pids of every process that carries this desktop's marker, except this shell.
marked_pids() {
    local file pid
    for file in $(grep -lzxF "$DESKTOP_MARKER" /proc/[0-9]*/environ 2>/dev/null); do
        pid="${file#/proc/}"
        pid="${pid%/environ}"
        [[ "$pid" == "$$" || "$pid" == "${BASHPID:-$$}" ]] && continue
        alive "$pid" && echo "$pid"
    done
    return 0
}

# kill_and_wait SECONDS PID...: SIGTERM, wait up to SECONDS, then SIGKILL what is left.
kill_and_wait() {
    local grace="$1"
    shift
    (($#)) || return 0
    kill -TERM "$@" 2>/dev/null || true
    local deadline=$((SECONDS + grace)) pid left
    while :; do
        left=()
        for pid in "$@"; do alive "$pid" && left+=("$pid"); done
        ((${#left[@]})) || return 0
        ((SECONDS >= deadline)) && break
        sleep 0.1
    done
    kill -KILL "${left[@]}" 2>/dev/null || true
}

# supervised: true when this stack's supervisor (image/supervisord.conf) answers on its socket
# (SUPERVISOR_SOCKET, which the entrypoint sets; the desktop's own user never reaches it);
# supervisorctl ARGS...: ask it.
supervisorctl() {
    local python="${PYTHON:-python3}"
    [[ -z "${PYTHON:-}" && -x "$IMAGE_DIR/../.venv/bin/python" ]] && python="$IMAGE_DIR/../.venv/bin/python"
    "$python" -m supervisor.supervisorctl -s "unix://$SUPERVISOR_SOCKET" "$@"
}

supervised() {
    [[ -z "${SUPERVISED_PART:-}" && -S "${SUPERVISOR_SOCKET:-}" ]] &&
        supervisorctl pid >/dev/null 2>&1
}
