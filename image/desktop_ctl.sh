#!/usr/bin/env bash
# Restart (or stop, or start) the desktop of display N as its own user: the chat app's Reset.
#   desktop_ctl.sh restart|stop|start N
# Runs as root: the agent's user (computeruse in the image) calls it through sudo (the image's
# sudoers allows exactly this script), so its settings come from root's notes that the
# entrypoint wrote (/run/computer-use-demo/desktop-N.env), never from the caller.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
action="${1:-}" num="${2:-}"
if [[ ! "$action" =~ ^(restart|stop|start)$ || ! "$num" =~ ^[0-9]+$ ]]; then
    echo "usage: desktop_ctl.sh restart|stop|start DISPLAY_NUMBER" >&2
    exit 2
fi
if [[ "$(id -u)" != 0 ]]; then
    echo "desktop_ctl.sh runs as root (the chat app calls it with sudo)" >&2
    exit 1
fi
notes="/run/computer-use-demo/desktop-$num.env"
if [[ ! -f "$notes" || -L "$notes" || "$(stat -c %u "$notes")" != 0 ]]; then
    echo "no desktop :$num was started by the entrypoint ($notes is missing)" >&2
    exit 1
fi
# shellcheck disable=SC1090 # root's own notes, written with printf %q
source "$notes"
source "$here/users.sh"
if [[ "$action" != start ]]; then
    as_desktop "$DESKTOP_STATE" "$here/stop_desktop.sh"
fi
if [[ "$action" != stop ]]; then
    HOME="$(user_field "$AGENT_USER" 6)" "$here/firefox_policies.sh" || true
    as_desktop "$DESKTOP_STATE" "$here/start_desktop.sh"
    share_cookie "$DESKTOP_STATE" "${DESKTOP_STATE%/desktop}"
fi
