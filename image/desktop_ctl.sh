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
here="$(desktop_image_dir "$here")" || exit 1
# Under the supervisor (image/supervisord.conf) it stops and starts the desktop's parts (else it
# would start a killed part again at once); stop_desktop.sh then ends the rest (the apps) and
# start_desktop.sh, finding the parts running, waits until they answer.
supervised=""
python=python3
[[ -x "$here/../.venv/bin/python" ]] && python="$here/../.venv/bin/python"
supervisorctl() { "$python" -m supervisor.supervisorctl -s "unix://$SUPERVISOR_SOCKET" "$@"; }
if [[ -S "${SUPERVISOR_SOCKET:-}" ]] && supervisorctl pid >/dev/null 2>&1; then
    supervised=1
fi
if [[ -n "$supervised" && "$action" != start ]]; then
    supervisorctl stop 'desktop:*' >&2
fi
if [[ "$action" != start ]]; then
    as_desktop "$DESKTOP_STATE" "$here/stop_desktop.sh"
fi
if [[ "$action" != stop ]]; then
    HOME="$(user_field "$AGENT_USER" 6)" "$here/firefox_policies.sh" || true
    [[ -z "$supervised" ]] || supervisorctl start 'desktop:*' >&2
    as_desktop "$DESKTOP_STATE" "$here/start_desktop.sh"
    share_cookie "$DESKTOP_STATE" "${DESKTOP_STATE%/desktop}"
fi
