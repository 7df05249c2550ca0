# The computer-use demo in one image: a virtual desktop (Xvfb, mutter + tint2, Firefox), the chat
# app (Streamlit) and one authenticated door on 8080 in front of the chat and the desktop, brought
# up by the same image/entrypoint.sh that the native start (scripts/start) runs. Only the door is
# published: VNC (5900) and noVNC (6080) listen inside only, on 127.0.0.1 (VNC on all addresses
# too when VNC_PASSWORD is set, and then it requires that password); the chat app on a unix
# socket of the agent's user. Two users: the entrypoint starts as root only to run the desktop
# as computeruse-desktop (no secret, no sudo unless AGENT_SUDO=1) and the agent (chat, door,
# key) as computeruse. compose.yaml runs the same image as two containers.
# Layers go from slowest-changing to fastest: Debian packages, Python dependencies, our code.
FROM python:3.11-slim-bookworm

ARG WIDTH=1024
ARG HEIGHT=768
ARG DISPLAY_NUM=1

ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/computeruse \
    AGENT_USER=computeruse \
    DESKTOP_USER=computeruse-desktop \
    WIDTH=${WIDTH} \
    HEIGHT=${HEIGHT} \
    DISPLAY_NUM=${DISPLAY_NUM}

# 1. Debian packages, read from the same lists scripts/install reads (one place for both).
#    Manuals, docs (but their copyright notes) and translations stay out: ~200 MB nobody reads.
COPY image/packages/desktop.txt image/packages/apps.txt /tmp/packages/
RUN printf '%s\n' 'path-exclude=/usr/share/doc/*' 'path-include=/usr/share/doc/*/copyright' \
      'path-exclude=/usr/share/man/*' 'path-exclude=/usr/share/info/*' \
      'path-exclude=/usr/share/locale/*' 'path-include=/usr/share/locale/locale.alias' \
      >/etc/dpkg/dpkg.cfg.d/01-slim \
 && sed -e 's/#.*//' -e 's/[[:space:]]*|.*//' -e '/^[[:space:]]*$/d' \
      /tmp/packages/desktop.txt /tmp/packages/apps.txt \
      >/tmp/packages/wanted \
 && apt-get update \
 && xargs --arg-file=/tmp/packages/wanted apt-get install -y --no-install-recommends \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* /tmp/packages

# 2. The two users. computeruse (uid 1000, the reference's volume owner: -v $HOME/.anthropic:
#    /home/computeruse/.anthropic keeps working) is the agent: its home is 0700, so the key and
#    settings there stay out of the desktop's reach whatever the volume's own modes. The
#    desktop's user (uid 1001: not the volume's owner, in no group of the agent's) is where
#    Claude's shells run; it has no sudo (AGENT_SUDO=1 gives it some at start). The agent may
#    restart the desktop (the app's Reset) through one script, as root, and nothing else.
#    /tmp/.X11-unix is the X socket folder Xvfb expects to be root's.
RUN useradd --create-home --home-dir "$HOME" --shell /bin/bash --uid 1000 --user-group computeruse \
 && useradd --create-home --home-dir /home/computeruse-desktop --shell /bin/bash --uid 1001 \
      --user-group computeruse-desktop \
 && chmod 0700 "$HOME" \
 && echo "computeruse ALL=(root) NOPASSWD: /opt/computer-use-demo/image/desktop_ctl.sh" \
      >/etc/sudoers.d/computeruse \
 && chmod 0440 /etc/sudoers.d/computeruse \
 && mkdir -p "$HOME/.anthropic" /tmp/.X11-unix \
 && chown computeruse:computeruse "$HOME/.anthropic" \
 && chmod 0700 "$HOME/.anthropic" \
 && chmod 1777 /tmp/.X11-unix

# 3. Python dependencies, taken from pyproject.toml alone so a code change keeps this layer.
COPY pyproject.toml /tmp/deps/pyproject.toml
RUN python3 -c 'import sys, tomllib; print(*tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"], sep="\n")' \
      /tmp/deps/pyproject.toml >/tmp/deps/requirements.txt \
 && pip install --no-cache-dir --requirement /tmp/deps/requirements.txt \
 && rm -rf /tmp/deps

# 4. Our code: the package (no dependencies left to fetch), then root's read-only copy laid out
#    like a checkout (image/ beside computer_use_demo/), which is where the image/ scripts look
#    for things; neither user can change what root runs at the next start.
COPY pyproject.toml README.md /tmp/src/
COPY computer_use_demo/ /tmp/src/computer_use_demo/
RUN pip install --no-cache-dir --no-deps /tmp/src \
 && rm -rf /tmp/src
COPY image/desktop/firefox-policies.json /etc/firefox/policies/policies.json
# Root's, and ours (marked), so that the start (as root) writes the allowed-domains setting in.
RUN touch /etc/firefox/policies/.computer-use-demo
COPY computer_use_demo/ /opt/computer-use-demo/computer_use_demo/
COPY image/ /opt/computer-use-demo/image/

# Root only until the entrypoint has made the folders and dropped to each half's user.
# hadolint ignore=DL3002
USER 0:0
WORKDIR /home/computeruse
EXPOSE 8080
ENTRYPOINT ["/opt/computer-use-demo/image/entrypoint.sh"]
