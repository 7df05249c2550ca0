#!/usr/bin/env bash
# Shared by entrypoint.sh and desktop_ctl.sh (sourced, not run): the two halves' users, and the
# one way each half is started as its user from root (util-linux setpriv: no PAM, no shell,
# the environment we give and nothing else).
#
#   the agent   (AGENT_USER: in the image computeruse, natively whoever starts the stack): the
#               chat app, the door; it holds the API key, the door's token, settings, sessions.
#   the desktop (DESKTOP_USER, default computeruse-desktop): Xvfb, the window manager, the apps,
#               VNC, the desktop server, the agent's shells. No secret, no sudo (AGENT_SUDO=1
#               gives it passwordless sudo, and with it everything).

DESKTOP_USER="${DESKTOP_USER:-computeruse-desktop}"
AGENT_USER="${AGENT_USER:-$(id -un)}"
DISPLAY_NUM="${DISPLAY_NUM:-1}"
USERS_IMAGE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
#: Root's notes for desktop_ctl.sh (which runs with sudo's clean environment).
RUN_NOTES_DIR="/run/computer-use-demo"

say() { printf '[start] %s\n' "$*" >&2; }
die() {
    say "ERROR: $*"
    exit 1
}

user_field() { getent passwd "$1" | cut -d: -f"$2"; }

# The settings the desktop's parts read (no secret but the VNC password, which is the desktop's).
DESKTOP_SETTINGS=(DISPLAY_NUM WIDTH HEIGHT VNC_PORT NOVNC_PORT NOVNC_BIND BIND_ADDR READY_TIMEOUT
    VNC_PASSWORD VNC_PASSWORD_FILE SCREENSHOT_BACKEND LANG TZ DESKTOP_SERVER_SOCKET
    DESKTOP_SERVER_TCP DESKTOP_SERVER_TOKEN_FILE PYTHON)

# as_desktop STATE CMD...: run CMD as the desktop's user in a clean environment (its own HOME,
# PATH, the desktop settings, STATE_DIR=STATE). Without AGENT_SUDO=1, no_new_privs: no setuid
# program (sudo, su) can raise it again, whatever a sudoers file says.
as_desktop() {
    local state="$1" home name value env_args=()
    shift
    home="$(user_field "$DESKTOP_USER" 6)"
    for name in "${DESKTOP_SETTINGS[@]}"; do
        value="${!name-}"
        [[ -n "$value" ]] && env_args+=("$name=$value")
    done
    local privs=(--no-new-privs)
    [[ "${AGENT_SUDO:-0}" == 1 ]] && privs=()
    setpriv --reuid="$DESKTOP_USER" --regid="$(id -g "$DESKTOP_USER")" --init-groups \
        "${privs[@]}" -- env -i "PATH=$DESKTOP_PATH" "HOME=$home" "USER=$DESKTOP_USER" \
        "LOGNAME=$DESKTOP_USER" "SHELL=/bin/bash" "STATE_DIR=$state" "${env_args[@]}" "$@"
}

# as_agent CMD...: run CMD as the agent's user, with our environment (the key included).
as_agent() {
    if [[ "$(id -un)" == "$AGENT_USER" ]]; then
        "$@"
        return
    fi
    local home
    home="$(user_field "$AGENT_USER" 6)"
    setpriv --reuid="$AGENT_USER" --regid="$(id -g "$AGENT_USER")" --init-groups -- \
        env "HOME=$home" "USER=$AGENT_USER" "LOGNAME=$AGENT_USER" "$@"
}

# The desktop's PATH: the system's (the agent's shells get what the desktop's user may run).
DESKTOP_PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# owned_dir DIR USER MODE: DIR as a plain folder of USER with MODE, made if missing. A symbolic
# link, a file, or a folder of a third user is refused (someone else's folder in /tmp).
owned_dir() {
    local dir="$1" user="$2" mode="$3" uid owner
    uid="$(id -u "$user")"
    if [[ -L "$dir" || (-e "$dir" && ! -d "$dir") ]]; then
        die "$dir is not a plain folder (a link or a file): remove it, or set STATE_DIR elsewhere"
    fi
    if [[ -d "$dir" ]]; then
        owner="$(stat -c %u "$dir")"
        if [[ "$owner" != "$uid" && "$owner" != 0 && "$owner" != "$(id -u "$AGENT_USER")" ]]; then
            die "the state folder $dir belongs to $(stat -c '%U (uid %u)' "$dir"), not to $user:" \
                "refusing to start, its owner could read or replace the stack's files there." \
                "Remove it, or set STATE_DIR to a folder of your own."
        fi
    else
        mkdir -m "$mode" "$dir"
    fi
    chown "$user:$(id -g "$user")" "$dir"
    chmod "$mode" "$dir"
}

# share_cookie DESKTOP_STATE TOP: the display's cookie, copied for the agent (TOP/Xauthority,
# 0600, its own): the chat app's screen and in-process tools may draw on the desktop. The
# agent may; the desktop's user reads nothing of the agent's in return.
share_cookie() {
    [[ "$(id -u)" == 0 && -f "$1/Xauthority" ]] || return 0
    install -m 0600 -o "$AGENT_USER" -g "$(id -g "$AGENT_USER")" "$1/Xauthority" "$2/Xauthority"
}

# desktop_image_dir DIR: DIR (this image/ folder) when the desktop's user may read it; else the
# same checkout bound read-only under /run, where it may (a checkout in a private folder, like
# root's clone in /root: the first start must not need a move). Prints the folder to use.
desktop_image_dir() {
    local dir="$1" root top="/run/computer-use-demo-checkout" mnt
    if [[ "$(id -u)" != 0 ]] || as_desktop /tmp test -r "$dir/start_desktop.sh"; then
        echo "$dir"
        return 0
    fi
    root="$(dirname "$dir")"
    mnt="$top/$(printf '%s' "$root" | sha256sum | cut -c1-16)"
    if ! mountpoint -q "$mnt"; then
        mkdir -p "$mnt" && chmod 0755 "$top" "$mnt" || return 1
        mount --bind "$root" "$mnt" || return 1
        mount -o remount,bind,ro "$mnt" || true
    fi
    as_desktop /tmp test -r "$mnt/image/start_desktop.sh" || return 1
    say "the desktop's user cannot read $root (a folder above it is private): the stack runs" \
        "the same files from $mnt (a read-only bind mount)"
    echo "$mnt/image"
}
