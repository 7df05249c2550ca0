#!/usr/bin/env bash
# Bring up the virtual desktop on :$DISPLAY_NUM: Xvfb, mutter, tint2, x11vnc, noVNC.
# Idempotent: a part that is already running is left alone; a part that died is restarted.
# Settings (environment): DISPLAY_NUM (1), WIDTH x HEIGHT (1024x768), VNC_PORT (5900),
# NOVNC_PORT (6080), BIND_ADDR (0.0.0.0: only VNC with a password listens there),
# VNC_PASSWORD (none), STATE_DIR, READY_TIMEOUT (30). x11vnc and websockify listen on
# 127.0.0.1: the way in is the door on HTTP_PORT (start_webapp.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# A fresh random cookie for the display, in a 0600 file of the state folder. The entry is
# made host-independent (family "wild"), so a client finds it whatever the host name is.
make_xauthority() {
    local cookie entry
    cookie="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
    rm -f "$XAUTHORITY" "$XAUTHORITY"-[cl]
    (umask 077 && : >"$XAUTHORITY")
    xauth -q -f "$XAUTHORITY" add ":$DISPLAY_NUM" . "$cookie"
    entry="$(xauth -q -f "$XAUTHORITY" nlist ":$DISPLAY_NUM")"
    printf '%s\n' "ffff${entry:4}" | xauth -q -f "$XAUTHORITY" nmerge -
}

start_xvfb() {
    if ! skip_if_running xvfb; then
        if display_answers; then
            fail_part xvfb "display :$DISPLAY_NUM is served by an X server these scripts did not start; pick another DISPLAY_NUM or stop that server"
        fi
        local lock="/tmp/.X${DISPLAY_NUM}-lock" owner
        if [[ -f "$lock" ]]; then
            owner="$(tr -dc '0-9' <"$lock")"
            if ! alive "$owner"; then
                log "removing the stale lock of display :$DISPLAY_NUM"
                rm -f "$lock" "/tmp/.X11-unix/X$DISPLAY_NUM"
            fi
        fi
        make_xauthority
        log "starting Xvfb ${WIDTH}x${HEIGHT}x24"
        # -noreset: otherwise Xvfb resets whenever its last client leaves and drops the
        # connections that arrive meanwhile (back-to-back xdotool calls fail at random).
        # -auth: only a client holding the cookie in $XAUTHORITY may connect.
        start_part xvfb Xvfb ":$DISPLAY_NUM" -screen 0 "${WIDTH}x${HEIGHT}x24" -dpi 96 -nolisten tcp \
            -noreset -auth "$XAUTHORITY"
    fi
    wait_for xvfb display_answers
}

start_mutter() {
    if ! skip_if_running mutter; then
        log "starting mutter"
        start_part mutter env XDG_SESSION_TYPE=x11 mutter --replace --sm-disable
    fi
    wait_for mutter wm_running
}

editor_app() {
    if [[ -f /usr/share/applications/org.xfce.mousepad.desktop ]]; then
        echo /usr/share/applications/org.xfce.mousepad.desktop
    else
        local app="$STATE_DIR/text-editor.desktop"
        cat >"$app" <<DESKTOP
[Desktop Entry]
Type=Application
Name=Text Editor
Exec=$IMAGE_DIR/desktop/text-editor %F
Icon=accessories-text-editor
Terminal=false
Categories=Utility;TextEditor;
DESKTOP
        echo "$app"
    fi
}

# The panel's browser: Debian's firefox-esr, else Firefox as Ubuntu ships it.
browser_app() {
    local app
    for app in firefox-esr firefox; do
        if [[ -f "/usr/share/applications/$app.desktop" ]]; then
            echo "/usr/share/applications/$app.desktop"
            return
        fi
    done
    echo /usr/share/applications/firefox-esr.desktop
}

start_tint2() {
    if ! skip_if_running tint2; then
        sed -e "s#@EDITOR_APP@#$(editor_app)#" -e "s#@BROWSER_APP@#$(browser_app)#" \
            "$IMAGE_DIR/desktop/tint2rc" >"$STATE_DIR/tint2rc"
        log "starting tint2"
        start_part tint2 tint2 -c "$STATE_DIR/tint2rc"
    fi
    wait_for tint2 window_with_class tint2
}

# x11vnc listens on 127.0.0.1 only (noVNC, behind the door, is the way in), unless a VNC
# password is set: then on BIND_ADDR too, and it requires that password. VNC_PASSWORD_FILE
# keeps the password across a Reset from the app (whose environment holds no secret).
start_x11vnc() {
    if ! skip_if_running x11vnc; then
        local listen=127.0.0.1 passwd=""
        local args=(-display ":$DISPLAY_NUM" -auth "$XAUTHORITY" -rfbport "$VNC_PORT" -noipv6
            -forever -shared -wait 50 -quiet)
        if [[ -n "${VNC_PASSWORD:-}" ]]; then
            passwd="$STATE_DIR/vncpasswd"
            (umask 077 && printf '%s\n' "$VNC_PASSWORD" >"$passwd")
        elif [[ -n "${VNC_PASSWORD_FILE:-}" && -s "$VNC_PASSWORD_FILE" ]]; then
            passwd="$VNC_PASSWORD_FILE"
        fi
        if [[ -n "$passwd" ]]; then
            listen="$BIND_ADDR"
            args+=(-passwdfile "$passwd")
        else
            args+=(-localhost -nopw)
        fi
        args+=(-listen "$listen")
        # -loop: x11vnc restarts itself when its server process dies; not under the
        # supervisor, which restarts it (an orphaned child of -loop would keep the port).
        [[ -n "${SUPERVISED_PART:-}" ]] || args+=(-loop500)
        log "starting x11vnc on $listen:$VNC_PORT${passwd:+ (password required)}"
        start_part x11vnc x11vnc "${args[@]}"
    fi
    wait_for x11vnc port_answers 127.0.0.1 "$VNC_PORT"
}

# websockify (noVNC's files and its websocket) on 127.0.0.1 only (NOVNC_BIND: compose.yaml's
# desktop container, where the agent's container is the door), and its websocket only for
# the door (ExpectOrigin: a web page cannot send the door's Origin, so no page, not even one in
# the desktop's Firefox, can drive the desktop through it).
start_novnc() {
    if ! skip_if_running novnc; then
        log "starting noVNC on ${NOVNC_BIND:-127.0.0.1}:$NOVNC_PORT"
        start_part novnc websockify --web /usr/share/novnc \
            --auth-plugin websockify.auth_plugins.ExpectOrigin --auth-source "$DOOR_ORIGIN" \
            "${NOVNC_BIND:-127.0.0.1}:$NOVNC_PORT" "127.0.0.1:$VNC_PORT"
    fi
    wait_for novnc port_answers 127.0.0.1 "$NOVNC_PORT"
}

# Sourced (image/part.sh, one part under the supervisor): the functions only.
[[ "${BASH_SOURCE[0]}" == "$0" ]] || return 0
"$IMAGE_DIR/firefox_policies.sh" || true
if supervised; then
    # The supervisor owns the parts (a Reset after stop_desktop.sh): it starts them, we wait.
    supervisorctl start 'desktop:*' >&2 || true
fi
start_xvfb
start_mutter
start_tint2
start_x11vnc
start_novnc
log "desktop ready: display :$DISPLAY_NUM, VNC on 127.0.0.1:$VNC_PORT, noVNC on ${NOVNC_BIND:-127.0.0.1}:$NOVNC_PORT (for the door only)"
