#!/usr/bin/env bash
# Start the chat app (Streamlit, computer_use_demo/streamlit.py) and the combined page.
# Idempotent: a part already running is left alone; one that died is started again.
# Settings (environment): STREAMLIT_PORT (8501), HTTP_PORT (8080), NOVNC_PORT (6080),
# BIND_ADDR (0.0.0.0), PYTHON (the repo's .venv if there is one, else python3), and the
# desktop's DISPLAY_NUM / WIDTH / HEIGHT / STATE_DIR, handed on to the app.
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

app_env=(env -u COMPUTER_USE_DESKTOP -u ACCESS_TOKEN -u VNC_PASSWORD
    "DISPLAY_NUM=$DISPLAY_NUM" "DISPLAY=:$DISPLAY_NUM" "WIDTH=$WIDTH" "HEIGHT=$HEIGHT"
    "STATE_DIR=$DESKTOP_STATE_DIR" "NOVNC_PORT=$NOVNC_PORT" "BIND_ADDR=$BIND_ADDR"
    "CONTROL_FILE=$DESKTOP_STATE_DIR/person-in-control"
    "PYTHONUNBUFFERED=1")

start_streamlit() {
    if ! skip_if_running streamlit; then
        log "starting streamlit on $BIND_ADDR:$STREAMLIT_PORT"
        (cd "$ROOT" && umask 077 && start_part --same-group --keep-secrets streamlit \
            "${app_env[@]}" "$PYTHON" -m streamlit run \
            "$ROOT/computer_use_demo/streamlit.py" \
            --server.port "$STREAMLIT_PORT" --server.address "$BIND_ADDR" \
            --server.headless true --server.fileWatcherType none \
            --browser.gatherUsageStats false --theme.base light)
    fi
    wait_for streamlit port_answers "$(probe_host)" "$STREAMLIT_PORT"
}

start_page() {
    if ! skip_if_running webpage; then
        log "starting the combined page on $BIND_ADDR:$HTTP_PORT"
        start_part --same-group webpage "${app_env[@]}" "$PYTHON" "$IMAGE_DIR/webapp/server.py" \
            --bind "$BIND_ADDR" --port "$HTTP_PORT" \
            --streamlit-port "$STREAMLIT_PORT" --novnc-port "$NOVNC_PORT"
    fi
    wait_for webpage port_answers "$(probe_host)" "$HTTP_PORT"
}

start_streamlit
start_page
log "chat app http://$(probe_host):$STREAMLIT_PORT, combined page http://$(probe_host):$HTTP_PORT (logs in $STATE_DIR)"
