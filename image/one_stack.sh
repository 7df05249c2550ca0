#!/usr/bin/env bash
# One stack per desktop (sourced by entrypoint.sh, after users.sh, once STATE_DIR is known): a
# start whose display or ports are taken refuses before it changes anything, and says what
# runs there. Each running stack leaves a note (stack.info in its state folder: its URL
# without the token, its state folder, display and ports) that a refused start reads.

STACK_INFO="$STATE_DIR/stack.info"
HTTP_PORT="${HTTP_PORT:-8080}" VNC_PORT="${VNC_PORT:-5900}" NOVNC_PORT="${NOVNC_PORT:-6080}"

# True if PID exists and is not a zombie.
stack_alive() {
    local stat
    [[ -n "$1" ]] && stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [[ "${stat:0:1}" != Z ]]
}

stack_port_answers() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# The stack notes to look in: ours, then every state folder of this user's stacks.
stack_notes() {
    local note
    for note in "$STACK_INFO" /tmp/computer-use-*-*/stack.info \
        ${XDG_RUNTIME_DIR:+"$XDG_RUNTIME_DIR"/computer-use-*/stack.info}; do
        # Only notes we may trust: ours, or root's when we are root.
        [[ -f "$note" && ! -L "$note" && -O "$note" ]] && echo "$note"
    done | sort -u
}

# note_field NOTE KEY: one value of a stack note.
note_field() { sed -n "s/^$2=//p" "$1" | head -n 1; }

# What of ours is in use (display, ports), one per line.
stack_conflicts() {
    local lock="/tmp/.X${DISPLAY_NUM}-lock" pid name port
    if [[ -e "$lock" ]]; then
        pid="$(tr -dc '0-9' <"$lock" 2>/dev/null || true)"
        if stack_alive "$pid"; then echo "display :$DISPLAY_NUM"; fi
    fi
    for name in HTTP_PORT NOVNC_PORT VNC_PORT; do
        port="${!name}"
        if stack_port_answers 127.0.0.1 "$port"; then
            echo "port $port ($name)"
        elif [[ -n "${BIND_ADDR:-}" && "$BIND_ADDR" != 0.0.0.0 && "$BIND_ADDR" != "::" ]] &&
            stack_port_answers "$BIND_ADDR" "$port"; then
            echo "port $port ($name)"
        fi
    done
    # This state folder's own stack (its supervisor still runs).
    pid="$(cat "$STATE_DIR/supervisord.pid" 2>/dev/null || true)"
    if stack_alive "$pid" && [[ -S "$STATE_DIR/supervisor.sock" ]]; then
        echo "state folder $STATE_DIR"
    fi
}

# The running stacks that hold any of ``taken``, as "URL (state folder DIR)".
stacks_there() {
    local note pid display ports
    while read -r note; do
        pid="$(note_field "$note" pid)"
        stack_alive "$pid" || continue
        display="$(note_field "$note" display)"
        ports=" $(note_field "$note" ports) "
        local hit=""
        [[ "$display" == ":$DISPLAY_NUM" ]] && hit=1
        [[ "$(note_field "$note" state)" == "$STATE_DIR" ]] && hit=1
        for port in "$HTTP_PORT" "$NOVNC_PORT" "$VNC_PORT"; do
            [[ "$ports" == *" $port "* ]] && hit=1
        done
        [[ -n "$hit" ]] || continue
        echo "$(note_field "$note" url) (display $display, state folder $(note_field "$note" state))"
    done < <(stack_notes)
}

# refuse_if_taken: exit 1 with what runs there when our display or a port is in use.
refuse_if_taken() {
    local taken there line
    mapfile -t taken < <(stack_conflicts)
    ((${#taken[@]})) || return 0
    mapfile -t there < <(stacks_there)
    local list
    list="$(printf '%s, ' "${taken[@]}")"
    say "ERROR: cannot start here: ${list%, } already in use."
    if ((${#there[@]})); then
        for line in "${there[@]}"; do
            say "Computer Use Demo already runs there: $line"
        done
        say "Open that one, or stop it first (Ctrl-C in its terminal, or docker stop)."
    else
        say "Another program uses it (not a Computer Use Demo this user started): stop it first."
    fi
    say "To run one more beside it, give it a display and ports of its own, e.g." \
        "DISPLAY_NUM=$((DISPLAY_NUM + 1)) HTTP_PORT=$((HTTP_PORT + 1))" \
        "NOVNC_PORT=$((NOVNC_PORT + 1)) VNC_PORT=$((VNC_PORT + 1))"
    exit 1
}

# write_stack_note URL: this stack's note (read by a refused start), private like its folder.
write_stack_note() {
    (umask 077 && cat >"$STACK_INFO.tmp" <<NOTE
url=$1
state=$STATE_DIR
display=:$DISPLAY_NUM
ports=$HTTP_PORT $NOVNC_PORT $VNC_PORT
pid=$$
NOTE
    ) && mv "$STACK_INFO.tmp" "$STACK_INFO"
}
