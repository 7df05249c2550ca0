#!/usr/bin/env bash
# The container's (and the native run's) foreground process: the stack under a supervisor
# (image/supervisord.conf: the desktop's parts, the desktop server, the chat app, the door),
# up until SIGTERM/SIGINT, which stops it in order: the agent's runs first (no API call after),
# then the tools, then the desktop, all within docker stop's 10 s. A crashed part is back
# within seconds; one that keeps dying at its start is given up (the page names it, with its
# log). One stack per desktop: a start whose display or ports are taken refuses before it
# changes anything, and says what runs there.
#
# Two halves, two users (image/users.sh): started as root, it runs the desktop (Xvfb, window
# manager, apps, VNC, the desktop server) as DESKTOP_USER, without a secret, and the agent (the
# chat app, the door) as AGENT_USER, which alone holds the key. They share a folder tree
# (STATE_DIR, the agent's) and the desktop server's socket, nothing else.
#   COMPUTER_USE_ROLE=all (default) | desktop | agent: both halves, or one (compose.yaml)
#   AGENT_SUDO=1: the desktop's user gets passwordless sudo (and with it the key)
# Not root: both halves as this user only when DESKTOP_USER is this user (the agent can then
# read the key; the start says so); otherwise it refuses.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/users.sh"

ROLE="${COMPUTER_USE_ROLE:-all}"
case "$ROLE" in
    all | desktop | agent) ;;
    *) die "COMPUTER_USE_ROLE is all, desktop or agent, not '$ROLE'" ;;
esac
AGENT_SUDO="${AGENT_SUDO:-0}"
export DISPLAY_NUM WIDTH="${WIDTH:-1024}" HEIGHT="${HEIGHT:-768}"

me="$(id -un)"
if [[ "$(id -u)" != 0 ]]; then
    if [[ "$ROLE" != agent && "$DESKTOP_USER" != "$me" ]]; then
        die "the desktop runs as its own user ($DESKTOP_USER), which takes root to start:" \
            "run this as root (sudo ./scripts/start), or set DESKTOP_USER=$me to run the" \
            "desktop as you (then the agent's shell can read your API key)"
    fi
    AGENT_USER="$me"
    as_desktop() {
        local state="$1"
        shift
        STATE_DIR="$state" "$@"
    }
else
    getent passwd "$AGENT_USER" >/dev/null || die "no user $AGENT_USER (AGENT_USER)"
    if [[ "$ROLE" != agent ]] && ! getent passwd "$DESKTOP_USER" >/dev/null; then
        die "no user $DESKTOP_USER for the desktop: run scripts/install (as root) to create it"
    fi
fi
split=""
[[ "$DESKTOP_USER" != "$AGENT_USER" ]] && split=1
if [[ "$ROLE" != agent && -z "$split" ]]; then
    say "WARNING: the desktop runs as $DESKTOP_USER, the agent's own user: the agent's shell" \
        "can read the API key, the door's token and the settings. Run as root for two users."
fi

# The stack's folder: the agent's (0711 when split: the desktop may pass through to its own
# folder, but list, rename or replace nothing). Everything of the desktop is in desktop/.
if [[ -z "${STATE_DIR:-}" ]]; then
    if [[ -n "$split" ]]; then
        STATE_DIR="/tmp/computer-use-$(id -u "$AGENT_USER")-$DISPLAY_NUM"
    else
        STATE_DIR="$(source "$here/lib.sh" && echo "$STATE_DIR")"
    fi
fi
STATE_DIR="${STATE_DIR%/}"
# One stack per desktop: a start whose display or ports are taken stops here, changing nothing.
source "$here/one_stack.sh"
refuse_if_taken
DESKTOP_STATE="$STATE_DIR/desktop"
SOCKET_DIR="$STATE_DIR/desktop-server"
if [[ -n "$split" ]]; then
    owned_dir "$STATE_DIR" "$AGENT_USER" 0711
    # The agent's container (compose) has no desktop here, but the supervisor wants every
    # part's log folder to exist: there it is the agent's own, and stays empty.
    if [[ "$ROLE" == agent ]]; then
        owned_dir "$DESKTOP_STATE" "$AGENT_USER" 0700
    else
        owned_dir "$DESKTOP_STATE" "$DESKTOP_USER" 0700
    fi
else
    mkdir -p -m 0700 "$STATE_DIR" "$DESKTOP_STATE"
fi
export STATE_DIR DESKTOP_USER AGENT_USER AGENT_SUDO

# The desktop's sudo: none unless AGENT_SUDO=1 (it reaches everything, the key included).
desktop_sudoers=/etc/sudoers.d/computer-use-desktop
configure_sudo() {
    [[ -n "$split" && "$(id -u)" == 0 ]] || return 0
    if [[ "$AGENT_SUDO" == 1 ]]; then
        if ! command -v sudo >/dev/null; then
            say "WARNING: AGENT_SUDO=1, but sudo is not installed (scripts/install --apps installs it)"
            return 0
        fi
        mkdir -p "${desktop_sudoers%/*}"
        (umask 0337 && printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$DESKTOP_USER" >"$desktop_sudoers")
        if [[ "$ROLE" == desktop ]]; then
            say "AGENT_SUDO=1: the desktop's user ($DESKTOP_USER) has passwordless sudo (no secret lives here)"
        else
            say "WARNING: AGENT_SUDO=1: the desktop's user ($DESKTOP_USER) has passwordless sudo," \
                "so the agent can read the API key, the door's token and everything else here."
        fi
    else
        rm -f "$desktop_sudoers"
    fi
}

# Root's notes for desktop_ctl.sh (Reset from the chat app restarts the desktop through it).
write_notes() {
    [[ -n "$split" && "$(id -u)" == 0 ]] || return 0
    local name
    mkdir -p -m 0755 "$RUN_NOTES_DIR"
    {
        for name in "${DESKTOP_SETTINGS[@]}" DESKTOP_USER AGENT_USER AGENT_SUDO; do
            [[ -n "${!name-}" && "$name" != VNC_PASSWORD ]] && printf '%s=%q\n' "$name" "${!name}"
        done
        printf 'DESKTOP_STATE=%q\n' "$DESKTOP_STATE"
        printf 'SUPERVISOR_SOCKET=%q\n' "$SUPERVISOR_SOCKET"
        [[ -z "${VNC_PASSWORD:-}" ]] || printf 'VNC_PASSWORD_FILE=%q\n' "$DESKTOP_STATE/vncpasswd"
    } >"$RUN_NOTES_DIR/desktop-$DISPLAY_NUM.env.tmp"
    chmod 0644 "$RUN_NOTES_DIR/desktop-$DISPLAY_NUM.env.tmp"
    mv "$RUN_NOTES_DIR/desktop-$DISPLAY_NUM.env.tmp" "$RUN_NOTES_DIR/desktop-$DISPLAY_NUM.env"
}

# compose.yaml's desktop: the server on TCP needs a token; made here (root) unless given, in the
# volume it shares with the agent's container, readable by the desktop's user (it is the
# desktop's own secret: it opens nothing but this desktop).
make_desktop_token() {
    local file="${DESKTOP_SERVER_TOKEN_FILE:-}"
    [[ -n "${DESKTOP_SERVER_TCP:-}" && -n "$file" ]] || return 0
    if [[ ! -s "$file" ]]; then
        mkdir -p "$(dirname "$file")"
        (umask 077 && python3 -c 'import secrets; print(secrets.token_urlsafe(32))' >"$file.tmp")
        mv "$file.tmp" "$file"
    fi
    if [[ -n "$split" ]]; then
        chown "root:$(id -g "$DESKTOP_USER")" "$file"
        chmod 0640 "$file"
    fi
}

# compose.yaml's agent: the desktop server's token, copied from the shared volume into the
# agent's own folder (0600) once the desktop's container has made it.
take_desktop_token() {
    local file="${COMPUTER_USE_DESKTOP_TOKEN_FILE:-}" deadline=$((SECONDS + ${READY_TIMEOUT:-60}))
    [[ -n "$file" ]] || return 0
    while [[ ! -s "$file" ]]; do
        ((SECONDS < deadline)) || die "no desktop token in $file (is the desktop container up?)"
        sleep 0.5
    done
    (umask 077 && cp "$file" "$STATE_DIR/desktop-token")
    [[ -z "$split" ]] || chown "$AGENT_USER:$(id -g "$AGENT_USER")" "$STATE_DIR/desktop-token"
    export COMPUTER_USE_DESKTOP_TOKEN_FILE="$STATE_DIR/desktop-token"
}

# A checkout the desktop's user cannot read (root's clone in /root) runs from a read-only bind.
if [[ "$ROLE" != agent && -n "$split" ]]; then
    here="$(desktop_image_dir "$here")" ||
        die "the desktop's user ($DESKTOP_USER) cannot read $here (a folder above it is" \
            "private, like /root), and binding it elsewhere failed: put the checkout where" \
            "other users may read it (e.g. /opt or /srv)"
fi

# The supervisor's settings (image/supervisord.conf reads them from its environment).
export IMAGE_DIR="$here" DESKTOP_STATE SUPERVISOR_SOCKET="$STATE_DIR/supervisor.sock"
export SUPERVISOR_USER="$me" AGENT_LOGS="$STATE_DIR/webapp" RUN_DESKTOP=true RUN_AGENT=true
[[ "$ROLE" != agent ]] || RUN_DESKTOP=false
[[ "$ROLE" != desktop && -x "$here/start_webapp.sh" ]] || RUN_AGENT=false
# The desktop server, where this checkout has one (else the chat app's tools act in-process).
export RUN_SERVER="$RUN_DESKTOP"
if [[ ! -f "$here/../computer_use_demo/desktop/server.py" ]]; then
    RUN_SERVER=false
    [[ "$RUN_DESKTOP" != true ]] || say "no desktop server in this checkout: the chat app's tools act in-process"
fi
# A Python that has the supervisor (the checkout's .venv, the image's python3).
for python in "${SUPERVISOR_PYTHON:-}" "$here/../.venv/bin/python" "${PYTHON:-}" python3; do
    if [[ -n "$python" ]] && "$python" -c 'import supervisor' 2>/dev/null; then
        SUPERVISOR_PYTHON="$python"
        break
    fi
    SUPERVISOR_PYTHON=""
done
[[ -n "$SUPERVISOR_PYTHON" ]] ||
    die "no Python here has the supervisor (the supervisor package): run scripts/install"
supervisorctl() {
    "$SUPERVISOR_PYTHON" -m supervisor.supervisorctl -c "$here/supervisord.conf" "$@"
}

supervisor_pid=""
# Stop the supervisor (it stops the agent, then the tools, then the desktop), then whatever
# the parts left behind (the agent's shells, apps opened on the desktop).
stop_stack() {
    if [[ -n "$supervisor_pid" ]] && kill -0 "$supervisor_pid" 2>/dev/null; then
        kill -TERM "$supervisor_pid" 2>/dev/null || true
        local deadline=$((SECONDS + 8))
        while kill -0 "$supervisor_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.1; done
        kill -KILL "$supervisor_pid" 2>/dev/null || true
        wait "$supervisor_pid" 2>/dev/null || true
    fi
    if [[ "$RUN_AGENT" == true ]]; then as_agent "$here/stop_webapp.sh" >/dev/null 2>&1 || true; fi
    if [[ "$RUN_DESKTOP" == true ]]; then
        as_desktop "$DESKTOP_STATE" "$here/desktop_server.sh" stop >/dev/null 2>&1 || true
        as_desktop "$DESKTOP_STATE" "$here/stop_desktop.sh" >/dev/null 2>&1 || true
        rm -rf "$SOCKET_DIR"
        # AGENT_SUDO's sudo, and Reset's notes, last as long as this run.
        [[ -z "$split" || "$(id -u)" != 0 ]] ||
            rm -f "$desktop_sudoers" "$RUN_NOTES_DIR/desktop-$DISPLAY_NUM.env"
    fi
    rm -f "$STACK_INFO"
}
shutdown() {
    trap '' TERM INT
    echo "Stopping..." >&2
    stop_stack
    exit 0
}
trap shutdown TERM INT

# A fresh start (nothing runs here: checked above): no pid file or token of an earlier run.
rm -f "$DESKTOP_STATE"/*.pid "$STATE_DIR"/webapp/*.pid "$STATE_DIR/webapp/access-token"
if [[ -n "$split" ]]; then
    owned_dir "$STATE_DIR/webapp" "$AGENT_USER" 0700
else
    mkdir -p -m 0700 "$STATE_DIR/webapp"
fi

if [[ "$RUN_DESKTOP" == true ]]; then
    configure_sudo
    make_desktop_token
    # The Firefox policy is root's (the desktop's user must not loosen the allow-list); the
    # allow-list setting is the agent's.
    HOME="$(user_field "$AGENT_USER" 6)" "$here/firefox_policies.sh" || true
    if [[ "$RUN_SERVER" == true && -z "${DESKTOP_SERVER_TCP:-}" ]]; then
        # The desktop server's socket (image/part.sh hands its folder to the agent once the
        # server listens, at every start); the chat app's tools act through it.
        export DESKTOP_SERVER_SOCKET="$SOCKET_DIR/desktop.sock"
        export COMPUTER_USE_DESKTOP="unix://$DESKTOP_SERVER_SOCKET"
    fi
    write_notes
fi

if [[ "$RUN_AGENT" == true ]]; then
    take_desktop_token
    # The chat app's tools act through the desktop server (COMPUTER_USE_DESKTOP); it is told
    # whether the desktop has sudo (the system prompt says what the model can do there).
    if [[ "$ROLE" == agent ]]; then
        # compose.yaml's desktop container allows sudo (it holds no secret); its agent says so.
        DESKTOP_SUDO="${DESKTOP_SUDO:-1}"
    elif [[ -z "$split" ]]; then
        DESKTOP_SUDO="" # the desktop is this user, whose sudo is none of our business
    elif [[ "$AGENT_SUDO" == 1 ]]; then
        DESKTOP_SUDO=1
    else
        DESKTOP_SUDO=0
    fi
    export DESKTOP_SUDO DESKTOP_STATE_DIR="$DESKTOP_STATE" STATE_MODE=0711
    [[ -z "$split" ]] || export AGENT_XAUTHORITY="$STATE_DIR/Xauthority"
    [[ -n "$split" ]] || STATE_MODE=0700
fi

"$SUPERVISOR_PYTHON" -m supervisor.supervisord -c "$here/supervisord.conf" >/dev/null 2>&1 &
supervisor_pid=$!

# Up when every part the supervisor runs answers; a part it gave up on fails the start, with
# the end of its log.
answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }
x_answers() { DISPLAY=":$DISPLAY_NUM" XAUTHORITY="$DESKTOP_STATE/Xauthority" "$@" >/dev/null 2>&1; }
up() {
    # None given up (it fails the start at once), every part past its start (RUNNING).
    local states
    states="$(supervisorctl status 2>/dev/null || true)"
    if grep -q FATAL <<<"$states"; then
        local name log
        for name in $(awk '$2 == "FATAL" {print $1}' <<<"$states"); do
            name="${name#*:}"
            log="$DESKTOP_STATE/$name.log"
            [[ -f "$log" ]] || log="$STATE_DIR/webapp/$name.log"
            say "ERROR: $name keeps failing at its start; the end of $log:"
            tail -n 30 "$log" >&2 || true
        done
        return 2
    fi
    if [[ "$RUN_DESKTOP" == true ]]; then
        x_answers xdpyinfo || return 1
        x_answers xdotool search --class tint2 || return 1
        answers 127.0.0.1 "${VNC_PORT:-5900}" && answers 127.0.0.1 "${NOVNC_PORT:-6080}" || return 1
        [[ "$RUN_SERVER" != true || -n "${DESKTOP_SERVER_TCP:-}" || -S "$DESKTOP_SERVER_SOCKET" ]] ||
            return 1
    fi
    if [[ "$RUN_AGENT" == true ]]; then
        [[ -S "$STATE_DIR/webapp/chat.sock" && -s "$STATE_DIR/webapp/access-token" ]] || return 1
        answers 127.0.0.1 "${HTTP_PORT:-8080}" || answers "${BIND_ADDR:-127.0.0.1}" "${HTTP_PORT:-8080}" || return 1
    fi
    ! grep -qE 'STARTING|BACKOFF' <<<"$states"
}
deadline=$((SECONDS + 2 * ${READY_TIMEOUT:-60}))
until up; do
    if [[ $? == 2 ]] || ((SECONDS >= deadline)) || ! kill -0 "$supervisor_pid" 2>/dev/null; then
        say "ERROR: the stack did not start (the parts' logs are in $STATE_DIR); stopping."
        supervisorctl status >&2 || true
        stop_stack
        exit 1
    fi
    sleep 0.2
done

url="http://localhost:${HTTP_PORT:-8080}/"
write_stack_note "$url"
if [[ "$RUN_AGENT" == true ]]; then
    # The door's token (ACCESS_TOKEN, or the random one it made), as Jupyter does.
    echo "✨ Computer Use Demo is ready!"
    echo "➡️  Open ${url}?token=$(cat "$STATE_DIR/webapp/access-token") in your browser to begin"
else
    echo "✨ The desktop is ready (display :$DISPLAY_NUM, desktop server on ${DESKTOP_SERVER_TCP:-$SOCKET_DIR/desktop.sock})"
fi
say "logs in $STATE_DIR; a part that crashes is restarted by itself"

# Wait on the supervisor (a signal interrupts the wait and runs the shutdown).
while kill -0 "$supervisor_pid" 2>/dev/null; do
    wait "$supervisor_pid" 2>/dev/null || true
done
say "ERROR: the supervisor ended; stopping."
stop_stack
exit 1
