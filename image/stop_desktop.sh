#!/usr/bin/env bash
# Stop ALL of the desktop on :$DISPLAY_NUM: every part the start script launched and every
# process launched from them (apps opened from the panel, shells in its terminals), then Xvfb.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Run from a terminal on this very desktop, we would take our own terminal down: keep going.
trap '' HUP

# Under the supervisor, it stops its parts (else it would start them again at once); then
# whatever else carries the desktop's marker (the apps) goes below.
if supervised; then
    supervisorctl stop 'desktop:*' >&2 || true
fi

xvfb_pid="$(part_pid xvfb)"
is_ours "$xvfb_pid" || xvfb_pid=""

# Clients first, so they exit cleanly while the X server is still there.
clients=()
for pid in $(marked_pids); do
    [[ "$pid" == "$xvfb_pid" ]] || clients+=("$pid")
done
if ((${#clients[@]})); then
    log "stopping ${#clients[@]} process(es) of the desktop"
    kill_and_wait 5 "${clients[@]}"
fi
if [[ -n "$xvfb_pid" ]]; then
    log "stopping Xvfb (pid $xvfb_pid)"
    kill_and_wait 5 "$xvfb_pid"
fi
# Anything that started in between (a launcher clicked at the last moment).
leftover=($(marked_pids))
((${#leftover[@]} == 0)) || kill_and_wait 2 "${leftover[@]}"

lock="/tmp/.X${DISPLAY_NUM}-lock"
if [[ -n "$xvfb_pid" && -f "$lock" && "$(tr -dc '0-9' <"$lock")" == "$xvfb_pid" ]]; then
    rm -f "$lock" "/tmp/.X11-unix/X$DISPLAY_NUM"
fi
rm -f "$STATE_DIR"/*.pid
log "desktop stopped"
