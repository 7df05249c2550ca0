#!/usr/bin/env bash
# The container's (and the native run's) foreground process: start the desktop, then the web
# app, and stay up until SIGTERM/SIGINT, which stops everything quickly.
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
DESKTOP_STATE="$STATE_DIR/desktop"
SOCKET_DIR="$STATE_DIR/desktop-server"
if [[ -n "$split" ]]; then
    owned_dir "$STATE_DIR" "$AGENT_USER" 0711
    [[ "$ROLE" == agent ]] || owned_dir "$DESKTOP_STATE" "$DESKTOP_USER" 0700
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

start_server() {
    if [[ ! -f "$here/../computer_use_demo/desktop/server.py" ]]; then
        say "no desktop server in this checkout: the chat app's tools act in-process"
        return 0
    fi
    # On a unix socket in a folder the desktop's user makes the socket in, then loses: once
    # the server listens, the folder and the socket are the agent's (0700/0600), so only the
    # agent connects and the desktop's user cannot replace the socket with one of its own.
    if [[ -z "${DESKTOP_SERVER_TCP:-}" ]]; then
        rm -rf "$SOCKET_DIR"
        if [[ -n "$split" ]]; then
            owned_dir "$SOCKET_DIR" "$DESKTOP_USER" 0700
        else
            mkdir -m 0700 "$SOCKET_DIR"
        fi
        export DESKTOP_SERVER_SOCKET="$SOCKET_DIR/desktop.sock"
    fi
    as_desktop "$DESKTOP_STATE" "$here/desktop_server.sh" start || return 1
    if [[ -z "${DESKTOP_SERVER_TCP:-}" && -n "$split" ]]; then
        chown "$AGENT_USER:$(id -g "$AGENT_USER")" "$SOCKET_DIR" "$DESKTOP_SERVER_SOCKET"
        chmod 0700 "$SOCKET_DIR"
        chmod 0600 "$DESKTOP_SERVER_SOCKET"
    fi
    if [[ -z "${DESKTOP_SERVER_TCP:-}" ]]; then
        export COMPUTER_USE_DESKTOP="unix://$DESKTOP_SERVER_SOCKET"
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

webapp_pid=""
shutdown() {
    trap '' TERM INT
    echo "Stopping..." >&2
    if [[ -n "$webapp_pid" ]]; then
        # The web app runs in a session of its own: end all of it, then whatever it started
        # in sessions of their own, found by the app's marker.
        kill -TERM -- "-$webapp_pid" 2>/dev/null || true
        as_agent "$here/stop_webapp.sh" || true
    fi
    if [[ "$ROLE" != agent ]]; then
        as_desktop "$DESKTOP_STATE" "$here/desktop_server.sh" stop || true
        as_desktop "$DESKTOP_STATE" "$here/stop_desktop.sh" || true
        rm -rf "$SOCKET_DIR"
        # AGENT_SUDO's sudo, and Reset's notes, last as long as this run.
        [[ -z "$split" || "$(id -u)" != 0 ]] ||
            rm -f "$desktop_sudoers" "$RUN_NOTES_DIR/desktop-$DISPLAY_NUM.env"
    fi
    if [[ -n "$webapp_pid" ]]; then
        kill -KILL -- "-$webapp_pid" 2>/dev/null || true
        wait "$webapp_pid" 2>/dev/null || true
    fi
    exit 0
}
trap shutdown TERM INT

if [[ "$ROLE" != agent ]]; then
    if [[ -n "$split" ]] && ! as_desktop "$DESKTOP_STATE" test -r "$here/start_desktop.sh"; then
        die "the desktop's user ($DESKTOP_USER) cannot read $here (a folder above it is private," \
            "like /root): put the checkout where other users may read it (e.g. /opt or /srv)"
    fi
    configure_sudo
    make_desktop_token
    # The Firefox policy is root's (the desktop's user must not loosen the allow-list); the
    # allow-list setting is the agent's.
    HOME="$(user_field "$AGENT_USER" 6)" "$here/firefox_policies.sh" || true
    if ! as_desktop "$DESKTOP_STATE" "$here/start_desktop.sh" || ! start_server; then
        shutdown_failed=1
    fi
    if [[ -n "${shutdown_failed:-}" ]]; then
        as_desktop "$DESKTOP_STATE" "$here/desktop_server.sh" stop || true
        as_desktop "$DESKTOP_STATE" "$here/stop_desktop.sh" || true
        exit 1
    fi
    [[ -z "$split" ]] || share_cookie "$DESKTOP_STATE" "$STATE_DIR"
    write_notes
fi

if [[ "$ROLE" != desktop && -x "$here/start_webapp.sh" ]]; then
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
    setsid bash -c "$(declare -f as_agent user_field); as_agent \"\$@\"" as_agent \
        "$here/start_webapp.sh" &
    webapp_pid=$!
    # start_webapp.sh returns once both servers answer (they stay in its process group).
    if ! wait "$webapp_pid"; then
        echo "The chat app did not start; stopping." >&2
        as_agent "$here/stop_webapp.sh" || true
        if [[ "$ROLE" != agent ]]; then
            as_desktop "$DESKTOP_STATE" "$here/desktop_server.sh" stop || true
            as_desktop "$DESKTOP_STATE" "$here/stop_desktop.sh" || true
        fi
        exit 1
    fi
    url="http://localhost:${HTTP_PORT:-8080}/?token=$(cat "$STATE_DIR/webapp/access-token")"
    echo "✨ Computer Use Demo is ready!"
    echo "➡️  Open $url in your browser to begin"
else
    echo "✨ The desktop is ready (display :$DISPLAY_NUM, desktop server on ${DESKTOP_SERVER_TCP:-$SOCKET_DIR/desktop.sock})"
fi

# Sleep in short waits so a signal is handled at once, and reap whatever exits meanwhile.
while :; do
    sleep 1 &
    wait $! || true
done
