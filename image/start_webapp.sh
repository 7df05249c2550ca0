#!/usr/bin/env bash
# Start the chat app (Streamlit, computer_use_demo/streamlit.py) and the door in front of it all.
# Idempotent: a part already running is left alone; one that died is started again.
# Settings (environment): HTTP_PORT (8080) and BIND_ADDR (0.0.0.0) of the door, ACCESS_TOKEN
# (the door's token; a random one when unset), ALLOWED_HOSTS (host names besides localhost),
# STREAMLIT_PORT (8501) and NOVNC_PORT (6080) (both on 127.0.0.1 only), PYTHON (the repo's
# .venv if there is one, else python3), and the desktop's DISPLAY_NUM / WIDTH / HEIGHT /
# STATE_DIR, handed on to the app. The token is kept in $STATE_DIR/webapp/access-token (0600).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STREAMLIT_PORT="${STREAMLIT_PORT:-8501}"
HTTP_PORT="${HTTP_PORT:-8080}"
ROOT="$(cd "$IMAGE_DIR/.." && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

track_webapp
private_dir "$STATE_DIR"
TOKEN_FILE="$STATE_DIR/access-token"

# The app keeps the provider's keys (its tools drop them again), never the door's token nor
# the VNC password (a Reset finds that in its file).
app_env=(env -u COMPUTER_USE_DESKTOP -u ACCESS_TOKEN -u VNC_PASSWORD
    "DISPLAY_NUM=$DISPLAY_NUM" "DISPLAY=:$DISPLAY_NUM" "WIDTH=$WIDTH" "HEIGHT=$HEIGHT"
    "STATE_DIR=$DESKTOP_STATE_DIR" "NOVNC_PORT=$NOVNC_PORT" "VNC_PORT=$VNC_PORT"
    "BIND_ADDR=$BIND_ADDR" "CONTROL_FILE=$DESKTOP_STATE_DIR/person-in-control"
    "PYTHONUNBUFFERED=1")
if [[ -s "$DESKTOP_STATE_DIR/vncpasswd" ]]; then
    app_env+=("VNC_PASSWORD_FILE=$DESKTOP_STATE_DIR/vncpasswd")
fi

start_streamlit() {
    if ! skip_if_running streamlit; then
        log "starting streamlit on 127.0.0.1:$STREAMLIT_PORT/chat/"
        # umask 077: the sessions it saves are its user's alone (folders 0700, files 0600).
        (cd "$ROOT" && umask 077 && start_part --same-group --keep-secrets streamlit \
            "${app_env[@]}" "$PYTHON" -m streamlit run \
            "$ROOT/computer_use_demo/streamlit.py" \
            --server.port "$STREAMLIT_PORT" --server.address 127.0.0.1 \
            --server.baseUrlPath chat \
            --server.headless true --server.fileWatcherType none \
            --browser.gatherUsageStats false --theme.base light)
    fi
    wait_for streamlit port_answers 127.0.0.1 "$STREAMLIT_PORT"
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
        write_token
        log "starting the door on $BIND_ADDR:$HTTP_PORT"
        start_part --same-group webpage "${app_env[@]}" "$PYTHON" -m computer_use_demo.door.server \
            --bind "$BIND_ADDR" --port "$HTTP_PORT" --token-file "$TOKEN_FILE" \
            --allowed-hosts "${ALLOWED_HOSTS:-}" --novnc-origin "$DOOR_ORIGIN" \
            --streamlit-port "$STREAMLIT_PORT" --novnc-port "$NOVNC_PORT"
    fi
    wait_for webpage port_answers "$(probe_host)" "$HTTP_PORT"
}

start_streamlit
start_door
log "the door: http://localhost:$HTTP_PORT/ (token in $TOKEN_FILE); chat app inside only on 127.0.0.1:$STREAMLIT_PORT/chat/ (logs in $STATE_DIR)"
