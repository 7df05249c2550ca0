#!/usr/bin/env bash
# Install the desktop's Firefox policy (/etc/firefox/policies/policies.json): root's file, so the
# desktop's user (the agent's shells) cannot loosen the allow-list. Run by the entrypoint as
# root before it starts the desktop; run as anyone else (start_desktop.sh alone), it changes
# nothing it may not write. The allow-list setting is the chat app's (its HOME's settings).
set -euo pipefail
IMAGE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# First-run pages and nags cost the model steps; silence them where we may (root, e.g.
# the container and CI), never overwriting a policy file someone else put there (ours
# carries a mark beside it). The allowed-domains setting goes in too: see
# computer_use_demo/app/firefox.py.
target=/etc/firefox/policies/policies.json mark=/etc/firefox/policies/.computer-use-demo
root="" python="${PYTHON:-python3}"
root="$(cd "$IMAGE_DIR/.." && pwd)"
[[ -z "${PYTHON:-}" && -x "$root/.venv/bin/python" ]] && python="$root/.venv/bin/python"
dir="${target%/*}"
base="$IMAGE_DIR/desktop/firefox-policies.json" ours=""
[[ ! -e "$target" || -e "$mark" ]] || cmp -s "$target" "$base" && ours=1
if [[ -n "$ours" && ( -w "$dir" || ( ! -e "$dir" && -w /etc ) ) ]]; then
    mkdir -p "$dir" && touch "$mark"
    (cd "$root" && "$python" -m computer_use_demo.app.firefox "$base" "$target") ||
        cp "$base" "$target"
fi
