#!/usr/bin/env bash
# Start or stop the desktop server (python -m computer_use_demo.desktop.server): the desktop's one
# door for actions (screenshots, input, bash sessions, files), run as the desktop's user.
#   desktop_server.sh start | stop
# Settings (environment): DESKTOP_SERVER_SOCKET (a unix socket; the entrypoint makes its folder
# and hands it to the agent's user once the server listens), or DESKTOP_SERVER_TCP (HOST:PORT)
# with DESKTOP_SERVER_TOKEN_FILE (the bearer token; compose.yaml's desktop service), and the
# desktop's DISPLAY_NUM / STATE_DIR. It is not a part of the desktop that a Reset restarts
# (stop_desktop.sh): its processes carry a marker of their own.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ROOT="$(cd "$IMAGE_DIR/.." && pwd)"
# The repo's .venv when this user may run its Python; else the system's python3 with the
# .venv's packages (a .venv made from a Python in a private folder, like pyenv's in /root:
# the same version reads the same packages); else python3 as it is (the image).
pick_python() {
    local site
    if [[ -x "$ROOT/.venv/bin/python" ]]; then
        PYTHON="$ROOT/.venv/bin/python"
        return
    fi
    PYTHON=python3
    site="$ROOT/.venv/lib/$(python3 -c 'import sys; print(f"python{sys.version_info[0]}.{sys.version_info[1]}")')/site-packages"
    if [[ -d "$site" ]]; then
        export PYTHONPATH="$ROOT:$site${PYTHONPATH:+:$PYTHONPATH}"
    elif [[ -d "$ROOT/.venv" ]]; then
        log "ERROR: $(id -un) cannot run $ROOT/.venv's Python, and python3 is another version:" \
            "make the .venv from a Python every user may run (PYTHON=/usr/bin/python3 scripts/install)"
        exit 1
    fi
}
[[ -n "${PYTHON:-}" ]] || pick_python
DESKTOP_MARKER="COMPUTER_USE_DESKTOP_SERVER=:${DISPLAY_NUM}@${STATE_DIR}"

start() {
    local where=()
    if [[ -n "${DESKTOP_SERVER_TCP:-}" ]]; then
        [[ -s "${DESKTOP_SERVER_TOKEN_FILE:-}" ]] || {
            log "ERROR: DESKTOP_SERVER_TCP needs DESKTOP_SERVER_TOKEN_FILE (a file holding the token)"
            exit 1
        }
        where=(--tcp "$DESKTOP_SERVER_TCP" --token-file "$DESKTOP_SERVER_TOKEN_FILE")
    elif [[ -n "${DESKTOP_SERVER_SOCKET:-}" ]]; then
        where=(--unix "$DESKTOP_SERVER_SOCKET")
    else
        log "ERROR: set DESKTOP_SERVER_SOCKET or DESKTOP_SERVER_TCP"
        exit 1
    fi
    if ! skip_if_running desktop-server; then
        log "starting the desktop server on ${DESKTOP_SERVER_TCP:-$DESKTOP_SERVER_SOCKET}"
        (cd "$HOME" && start_part desktop-server "$PYTHON" -m computer_use_demo.desktop.server \
            "${where[@]}" --display ":$DISPLAY_NUM")
    fi
    if [[ -n "${DESKTOP_SERVER_TCP:-}" ]]; then
        local host="${DESKTOP_SERVER_TCP%:*}" port="${DESKTOP_SERVER_TCP##*:}"
        [[ "$host" == 0.0.0.0 || "$host" == "*" ]] && host=127.0.0.1
        wait_for desktop-server port_answers "$host" "$port"
    else
        wait_for desktop-server socket_answers "$DESKTOP_SERVER_SOCKET"
    fi
}

stop() {
    local pids
    mapfile -t pids < <(marked_pids)
    if ((${#pids[@]})); then
        log "stopping the desktop server (${#pids[@]} process(es) with its shells)"
        kill_and_wait 5 "${pids[@]}"
    fi
    rm -f "$STATE_DIR/desktop-server.pid"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *)
        echo "usage: desktop_server.sh start|stop" >&2
        exit 2
        ;;
esac
