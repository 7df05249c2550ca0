"""Shared pytest set-up. Fixtures of one area live in tests/support/, imported where used."""

import os

import pytest

ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "test-artifacts")


@pytest.fixture(scope="session")
def artifacts_dir() -> str:
    """Where tests save screenshots and logs for a human to look at."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    return os.path.abspath(ARTIFACTS)
