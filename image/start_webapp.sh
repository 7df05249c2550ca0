#!/usr/bin/env bash
# Start the chat app (Streamlit, computer_use_demo/streamlit.py) and the door in front of it all.
# Idempotent: a part already running is left alone; one that died is started again.
# Settings (environment): HTTP_PORT (8080) and BIND_ADDR (0.0.0.0) of the door, ACCESS_TOKEN
# (the door's token; a random one when unset), ALLOWED_HOSTS (host names besides localhost),
# NOVNC_PORT (6080, on NOVNC_HOST: 127.0.0.1), PYTHON (the repo's .venv if there is one, else
# python3), the desktop's DISPLAY_NUM / WIDTH / HEIGHT, STATE_DIR (the app's files go to its
# webapp/ folder) and DESKTOP_STATE_DIR (the desktop's folder; default STATE_DIR), and
# COMPUTER_USE_DESKTOP (+ COMPUTER_USE_DESKTOP_TOKEN_FILE): the desktop server the tools use.
# The chat app listens on a unix socket in the webapp folder (0700): only this user reaches it,
# and everyone else goes through the door. The token is kept in webapp/access-token (0600).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HTTP_PORT="${HTTP_PORT:-8080}"
ROOT="$(cd "$IMAGE_DIR/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

track_webapp
private_dir "$STATE_DIR"
TOKEN_FILE="$STATE_DIR/access-token"
CHAT_SOCKET="$STATE_DIR/chat.sock"
NOVNC_HOST="${NOVNC_HOST:-127.0.0.1}"

# The app and the door (which runs the task API's and MCP's agents) keep the provider's keys
# (their tools drop them again); the app never gets the door's token nor the VNC password (a
# Reset finds that in its file). The pause/approval state and the one-agent lock are the
# agent's (its private folder), never in a folder the desktop's user could write.
app_env=(env -u COMPUTER_USE_DESKTOP -u ACCESS_TOKEN -u VNC_PASSWORD
    "DISPLAY_NUM=$DISPLAY_NUM" "DISPLAY=:$DISPLAY_NUM" "WIDTH=$WIDTH" "HEIGHT=$HEIGHT"
    "STATE_DIR=$DESKTOP_STATE_DIR" "XAUTHORITY=${AGENT_XAUTHORITY:-$DESKTOP_STATE_DIR/Xauthority}"
    "NOVNC_PORT=$NOVNC_PORT" "VNC_PORT=$VNC_PORT" "BIND_ADDR=$BIND_ADDR"
    "CONTROL_FILE=$STATE_DIR/person-in-control" "AGENT_LOCK_DIR=$STATE_DIR"
    "PYTHONUNBUFFERED=1")
if [[ -n "${COMPUTER_USE_DESKTOP:-}" ]]; then
    # Set by the entrypoint for the chat app only: its tools act through the desktop server.
    app_env+=("COMPUTER_USE_DESKTOP=$COMPUTER_USE_DESKTOP")
    if [[ -n "${COMPUTER_USE_DESKTOP_TOKEN_FILE:-}" ]]; then
        app_env+=("COMPUTER_USE_DESKTOP_TOKEN_FILE=$COMPUTER_USE_DESKTOP_TOKEN_FILE")
    fi
fi
if [[ -n "${DESKTOP_SUDO:-}" ]]; then app_env+=("DESKTOP_SUDO=$DESKTOP_SUDO"); fi
if [[ -n "${DESKTOP_USER:-}" ]]; then app_env+=("DESKTOP_USER=$DESKTOP_USER"); fi
if [[ -s "$DESKTOP_STATE_DIR/vncpasswd" ]]; then
    app_env+=("VNC_PASSWORD_FILE=$DESKTOP_STATE_DIR/vncpasswd")
fi

start_streamlit() {
    if ! skip_if_running streamlit; then
        log "starting streamlit on $CHAT_SOCKET (/chat/)"
        # umask 077: the sessions it saves are its user's alone (folders 0700, files 0600).
        # (No subshell: under the supervisor, start_part becomes the app in place.)
        local cwd="$PWD" mask
        mask="$(umask)"
        cd "$ROOT" && umask 077
        start_part --same-group --keep-secrets streamlit \
            "${app_env[@]}" "$PYTHON" -m computer_use_demo.app.unix_socket "$CHAT_SOCKET" -- \
            run "$ROOT/computer_use_demo/streamlit.py" \
            --server.baseUrlPath chat \
            --server.headless true --server.fileWatcherType none \
            --browser.gatherUsageStats false --theme.base light
        cd "$cwd" && umask "$mask"
    fi
    wait_for streamlit socket_answers "$CHAT_SOCKET"
}

# The token: ACCESS_TOKEN, else a fresh random one (as Jupyter does); kept while the door runs.
write_token() {
    local token="${ACCESS_TOKEN:-}"
    if [[ -z "$token" ]]; then
        token="$("$PYTHON" -c 'import secrets; print(secrets.token_urlsafe(24))')"
    fi
    (umask 077 && printf '%s\n' "$token" >"$TOKEN_FILE")
}

start_door() {
    if ! skip_if_running webpage; then
        # The supervisor restarting the door keeps the token (the browsers' cookies stay good).
        [[ -n "${SUPERVISED_PART:-}" && -s "$TOKEN_FILE" ]] || write_token
        log "starting the door on $BIND_ADDR:$HTTP_PORT"
        start_part --same-group --keep-secrets webpage "${app_env[@]}" "$PYTHON" -m computer_use_demo.api \
            --bind "$BIND_ADDR" --port "$HTTP_PORT" --token-file "$TOKEN_FILE" \
            --allowed-hosts "${ALLOWED_HOSTS:-}" --novnc-origin "$DOOR_ORIGIN" \
            --streamlit-socket "$CHAT_SOCKET" --novnc-host "$NOVNC_HOST" --novnc-port "$NOVNC_PORT"
    fi
    wait_for webpage port_answers "$(probe_host)" "$HTTP_PORT"
}

# Sourced (image/part.sh, one part under the supervisor): the settings and functions only.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0
start_streamlit
start_door
log "the door: http://localhost:$HTTP_PORT/ (token in $TOKEN_FILE); the chat app behind it on $CHAT_SOCKET (logs in $STATE_DIR)"
