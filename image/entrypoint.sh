#!/usr/bin/env bash
# The container's (and the native run's) foreground process: start the desktop, then the web
# app if present, and stay up until SIGTERM/SIGINT, which stops everything quickly.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# The settings and the (checked, private) state folder the start scripts use.
source "$here/lib.sh"

webapp_pid=""
shutdown() {
    trap '' TERM INT
    echo "Stopping..." >&2
    if [[ -n "$webapp_pid" ]]; then
        # The web app runs in a session of its own: end all of it, then whatever it started
        # in sessions of their own (the agent's shells), found by the app's marker.
        kill -TERM -- "-$webapp_pid" 2>/dev/null || true
        "$here/stop_webapp.sh" || true
    fi
    "$here/stop_desktop.sh" || true
    if [[ -n "$webapp_pid" ]]; then
        kill -KILL -- "-$webapp_pid" 2>/dev/null || true
        wait "$webapp_pid" 2>/dev/null || true
    fi
    exit 0
}
trap shutdown TERM INT

if ! "$here/start_desktop.sh"; then
    "$here/stop_desktop.sh" || true
    exit 1
fi

if [[ -x "$here/start_webapp.sh" ]]; then
    setsid "$here/start_webapp.sh" &
    webapp_pid=$!
    # start_webapp.sh returns once both ports answer (its servers stay in its process group).
    if ! wait "$webapp_pid"; then
        echo "The chat app did not start; stopping." >&2
        "$here/stop_webapp.sh" || true
        "$here/stop_desktop.sh" || true
        exit 1
    fi
fi

url="http://localhost:${HTTP_PORT:-8080}"
if [[ -n "$webapp_pid" ]]; then
    # The door's token (ACCESS_TOKEN, or the random one start_webapp.sh made), as Jupyter does.
    url="$url/?token=$(cat "$STATE_DIR/webapp/access-token")"
fi
echo "✨ Computer Use Demo is ready!"
echo "➡️  Open $url in your browser to begin"

# Sleep in short waits so a signal is handled at once, and reap whatever exits meanwhile.
while :; do
    sleep 1 &
    wait $! || true
done
