"""Shared fixtures.

S3: one real SeaweedFS server per test session (tests/s3server.py), started on first use.
If it cannot start, every test that needs it errors: S3 tests never skip.
Kubernetes: one API emulator per test (tests/kubeapi/fixtures.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import s3server
from tests.kubeapi.fixtures import kubeapi, kubeapi_http, kubectl  # noqa: F401 - shared fixtures

# Settings a developer's shell may carry that would point the tests at a real account.
AWS_SETTINGS_TO_CLEAR = ("AWS_", "RECONCILER_LOCK_TTL", "RECONCILER_S3_")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[s3server.S3Server]:
    server = s3server.start(tmp_path_factory.mktemp("seaweedfs"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_bucket(s3_server: s3server.S3Server) -> str:
    return s3_server.create_bucket("reconciler-state")


@pytest.fixture
def s3_env(
    s3_server: s3server.S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> dict[str, str]:
    """Point the standard AWS settings at the test server, and only there.

    Through the environment, as CI and Helm hooks configure it; child processes inherit it.
    """
    for name in list(os.environ):
        if name.startswith(AWS_SETTINGS_TO_CLEAR):
            monkeypatch.delenv(name)
    env = {
        **s3_server.env(),
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",  # no second-long probe for an instance role
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def s3_url(s3_env: dict[str, str], s3_bucket: str) -> str:
    """A state URL no other test uses, with the environment pointing at the server."""
    return f"s3://{s3_bucket}/{uuid.uuid4().hex}/reconciler.state.json"


@pytest.fixture
def write(tmp_path: Path):
    """`write(name, text)` → the path of a new file in the test's directory."""

    def write(name: str, text: str) -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write
