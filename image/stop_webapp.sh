#!/usr/bin/env bash
# Stop the chat app and the combined page started by start_webapp.sh (same settings), and
# every process they started (the agent's shells), nothing else.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

track_webapp

pids=($(marked_pids))
if ((${#pids[@]})); then
    log "stopping ${#pids[@]} process(es) of the chat app"
    kill_and_wait 5 "${pids[@]}"
fi
rm -f "$STATE_DIR"/*.pid
log "chat app stopped"
