"""Shared pytest set-up. Fixtures of one area live in tests/support/, imported where used."""

import os
import tempfile

import pytest

# One agent per desktop is enforced with a lock per display (desktop_lock.py): this test run's
# locks live apart from a real desktop's and from other test runs on the same machine.
os.environ.setdefault("AGENT_LOCK_DIR", tempfile.mkdtemp(prefix="agent-locks-"))

ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "test-artifacts")


@pytest.fixture(scope="session")
def artifacts_dir() -> str:
    """Where tests save screenshots and logs for a human to look at."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    return os.path.abspath(ARTIFACTS)
