#!/usr/bin/env bash
# One part of the stack, for the supervisor (image/supervisord.conf), which runs it as the
# entrypoint's user (root in the image):
#   part.sh NAME          run the part as its half's user (users.sh: as_desktop, a clean
#                         environment; as_agent), in the foreground, until it ends
#   part.sh --inner NAME  (as that user) the start that start_desktop.sh, desktop_server.sh or
#                         start_webapp.sh give the part (same command, marker, pid file, secrets
#                         dropped the same way), exec'd in place of this shell
# NAME: xvfb | mutter | tint2 | x11vnc | novnc | desktop-server | streamlit | webpage
# The supervisor restarts the part when it ends; a part that needs the display waits for it.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

inner() {
    local name="$1"
    export SUPERVISED_PART="$name"
    case "$name" in
        xvfb | mutter | tint2 | x11vnc | novnc)
            source "$here/start_desktop.sh" # its functions: sourced, it starts nothing
            if [[ "$name" != xvfb && "$name" != novnc ]]; then
                local deadline=$((SECONDS + READY_TIMEOUT))
                until display_answers; do # the supervisor brings the X server back
                    ((SECONDS < deadline)) || fail_part "$name" "display :$DISPLAY_NUM does not answer"
                    sleep 0.2
                done
            fi
            "start_$name"
            ;;
        desktop-server)
            source "$here/lib.sh"
            local deadline=$((SECONDS + READY_TIMEOUT))
            until display_answers; do # it acts on the display from its start
                ((SECONDS < deadline)) || fail_part "$name" "display :$DISPLAY_NUM does not answer"
                sleep 0.2
            done
            exec bash "$here/desktop_server.sh" start
            ;;
        streamlit) source "$here/start_webapp.sh" && start_streamlit ;;
        webpage) source "$here/start_webapp.sh" && start_door ;;
    esac
    exit 1 # start_part became the part: here only when it could not start
}

if [[ "${1:-}" == --inner ]]; then
    inner "${2:-}"
fi

name="${1:-}"
READY_TIMEOUT="${READY_TIMEOUT:-30}"
source "$here/users.sh"
echo "--- $(date -u '+%Y-%m-%d %H:%M:%S') starting $name" >&2
if [[ "$(id -u)" != 0 ]]; then # one user for both halves (the entrypoint allowed it)
    as_desktop() {
        local state="$1"
        shift
        STATE_DIR="$state" "$@"
    }
    AGENT_USER="$(id -un)"
fi
split=""
[[ "$DESKTOP_USER" != "$AGENT_USER" ]] && split=1

# As the desktop's user, in the background; the pid of that.
as_desktop_part() {
    as_desktop "$DESKTOP_STATE" env "SUPERVISED_PART=$1" bash "$here/part.sh" --inner "$1" &
    child=$!
}

# The X server: a fresh cookie each start, which the agent gets a copy of (users.sh).
xvfb_part() {
    local since="$STATE_DIR/.xvfb-start"
    : >"$since"
    as_desktop_part xvfb
    if [[ -n "$split" ]]; then
        local deadline=$((SECONDS + READY_TIMEOUT))
        until [[ "$DESKTOP_STATE/Xauthority" -nt "$since" ]] || ((SECONDS >= deadline)); do
            kill -0 "$child" 2>/dev/null || break
            sleep 0.1
        done
        share_cookie "$DESKTOP_STATE" "$STATE_DIR"
    fi
    wait "$child"
}

# The desktop server, on a unix socket in a folder the desktop's user makes it in, then loses
# to the agent (entrypoint.sh's start_server, at every start).
server_part() {
    # On TCP (compose's desktop service) there is no socket, and no folder to make.
    local socket="${DESKTOP_SERVER_SOCKET:-}" folder=""
    folder="${socket%/*}"
    if [[ -z "${DESKTOP_SERVER_TCP:-}" ]]; then
        rm -rf "$folder"
        if [[ -n "$split" ]]; then owned_dir "$folder" "$DESKTOP_USER" 0700; else mkdir -m 0700 "$folder"; fi
    fi
    as_desktop_part desktop-server
    if [[ -z "${DESKTOP_SERVER_TCP:-}" && -n "$split" ]]; then
        local deadline=$((SECONDS + READY_TIMEOUT))
        until [[ -S "$DESKTOP_SERVER_SOCKET" ]] || ((SECONDS >= deadline)); do
            kill -0 "$child" 2>/dev/null || break
            sleep 0.1
        done
        sleep 0.2 # listening, not only bound
        chown "$AGENT_USER:$(id -g "$AGENT_USER")" "$folder" "$DESKTOP_SERVER_SOCKET" 2>/dev/null || true
        chmod 0700 "$folder"
        chmod 0600 "$DESKTOP_SERVER_SOCKET" 2>/dev/null || true
    fi
    wait "$child"
}

case "$name" in
    xvfb) xvfb_part ;;
    mutter | tint2 | x11vnc)
        as_desktop_part "$name"
        wait "$child"
        ;;
    novnc)
        as_desktop_part novnc
        status=0
        wait "$child" || status=$?
        # websockify's connection handlers outlive a killed parent and keep its port: end
        # them too (the part's process group is ours), so that its next start can listen.
        trap '' TERM
        kill -TERM -- "-$$" 2>/dev/null || true
        exit "$status"
        ;;
    desktop-server) server_part ;;
    streamlit | webpage) as_agent env "SUPERVISED_PART=$name" bash "$here/part.sh" --inner "$name" ;;
    *)
        echo "usage: part.sh [--inner] xvfb|mutter|tint2|x11vnc|novnc|desktop-server|streamlit|webpage" >&2
        exit 2
        ;;
esac
