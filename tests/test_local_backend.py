"""The local file backend: what only a state file on disk promises.

Writes are atomic and keep the previous state as `.backup`; a lock left by a process that
died on this host is taken over, a live or remote holder's is not (unless its TTL lapsed);
a corrupted lock file is a clear error that force-unlock can clear. (What every backend
promises is in test_backend_conformance.py.)
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.backends import LockInfo, open_backend
from reconciler.backends.local import LocalBackend
from reconciler.backends.locking import corrupt_lock_id, encode_lock
from reconciler.errors import BackendError, LockError, LockHeldError, UsageError


@pytest.fixture
def state_path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "reconciler.state.json"


def test_the_default_spec_opens_a_local_backend(state_path: Path) -> None:
    assert isinstance(open_backend(str(state_path)), LocalBackend)


def test_a_write_creates_directories_and_keeps_the_previous_state_as_backup(
    state_path: Path,
) -> None:
    backend = LocalBackend(state_path)
    first = backend.write(b"v1", if_match=None)
    assert not state_path.with_name("reconciler.state.json.backup").exists()

    backend.write(b"v2", if_match=first)

    assert state_path.read_bytes() == b"v2"
    assert state_path.with_name("reconciler.state.json.backup").read_bytes() == b"v1"
    leftovers = {path.name for path in state_path.parent.iterdir()} - {
        "reconciler.state.json",
        "reconciler.state.json.backup",
        "reconciler.state.json.flock",
    }
    assert leftovers == set(), "no temporary files may be left behind"


def test_a_write_keeps_the_file_mode(state_path: Path) -> None:
    backend = LocalBackend(state_path)
    etag = backend.write(b"v1", if_match=None)
    state_path.chmod(0o600)

    backend.write(b"v2", if_match=etag)

    assert state_path.stat().st_mode & 0o777 == 0o600


def test_an_unreadable_state_is_a_backend_error_naming_the_file(state_path: Path) -> None:
    state_path.mkdir(parents=True)

    with pytest.raises(BackendError) as caught:
        LocalBackend(state_path).read()

    assert str(state_path) in caught.value.detail
    assert caught.value.hint


def test_the_lock_file_records_who_holds_it(state_path: Path) -> None:
    backend = LocalBackend(state_path)

    lock = backend.lock(operation="apply")

    recorded = json.loads(state_path.with_name("reconciler.state.json.lock").read_text())
    assert recorded["id"] == lock.id
    assert recorded["operation"] == "apply"
    assert recorded["pid"] == os.getpid()
    assert recorded["host"] == socket.gethostname()
    backend.unlock(lock.id)
    assert not state_path.with_name("reconciler.state.json.lock").exists()


def test_a_lock_left_by_a_killed_process_on_this_host_is_taken_over(state_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK_FOREVER, str(state_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    holder_id = holder.stdout.readline().strip() if holder.stdout else ""
    assert holder_id, "the holder process did not take the lock"
    with pytest.raises(LockHeldError, match=holder_id):
        LocalBackend(state_path).lock(operation="apply")

    holder.send_signal(signal.SIGKILL)
    holder.wait()

    lock = LocalBackend(state_path).lock(operation="apply")
    assert lock.id != holder_id
    LocalBackend(state_path).unlock(lock.id)


HOLD_LOCK_FOREVER = """
import sys, time
from reconciler.backends.local import LocalBackend
print(LocalBackend(sys.argv[1]).lock(operation="apply").id, flush=True)
time.sleep(600)
"""


def test_a_dead_process_on_another_host_keeps_its_lock(state_path: Path) -> None:
    elsewhere = _lock_info(host="another-host", pid=_dead_pid())
    _plant_lock(state_path, encode_lock(elsewhere, ttl=None))

    with pytest.raises(LockHeldError, match="another-host"):
        LocalBackend(state_path).lock(operation="apply")


def test_a_remote_lock_whose_heartbeat_lapsed_past_its_ttl_is_taken_over(
    state_path: Path,
) -> None:
    long_ago = "2020-01-01T00:00:00.000Z"
    stale = _lock_info(host="another-host", pid=1, heartbeat=long_ago)
    _plant_lock(state_path, encode_lock(stale, ttl=30.0))

    lock = LocalBackend(state_path, lock_ttl=30.0).lock(operation="apply")

    assert lock.id != stale.id


def test_a_held_lock_with_a_ttl_is_kept_alive_by_heartbeats(state_path: Path) -> None:
    backend = LocalBackend(state_path, lock_ttl=0.4)
    lock = backend.lock(operation="apply")
    lock_file = state_path.with_name("reconciler.state.json.lock")
    first_beat = json.loads(lock_file.read_text())["heartbeat"]

    time.sleep(0.5)

    assert json.loads(lock_file.read_text())["heartbeat"] > first_beat
    backend.unlock(lock.id)


def test_a_corrupted_lock_file_is_a_clear_error_that_force_unlock_clears(
    state_path: Path,
) -> None:
    _plant_lock(state_path, b"\x00garbage")
    backend = LocalBackend(state_path)

    with pytest.raises(LockError, match="corrupted") as caught:
        backend.lock(operation="apply")

    assert not isinstance(caught.value, LockHeldError)
    assert "reconciler.state.json.lock" in caught.value.detail
    assert "reconciler state force-unlock" in caught.value.hint
    backend.unlock(corrupt_lock_id(b"\x00garbage"))
    backend.unlock(backend.lock(operation="apply").id)


def _lock_info(*, host: str, pid: int, heartbeat: str = "") -> LockInfo:
    fresh = LockInfo.new("apply")
    return LockInfo(
        id=fresh.id,
        who="someone",
        host=host,
        pid=pid,
        operation="apply",
        created=fresh.created,
        heartbeat=heartbeat or fresh.heartbeat,
    )


def _plant_lock(state_path: Path, content: bytes) -> None:
    state_path.parent.mkdir(parents=True, exist_ok=True)
    state_path.with_name("reconciler.state.json.lock").write_bytes(content)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_lock_ttl_comes_from_the_environment_when_not_given(
    state_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A state file on a volume that pods mount one after another: a killed pod's lock must
    # expire, since its process cannot be checked from another host.
    assert LocalBackend(state_path).lock_ttl is None
    monkeypatch.setenv("RECONCILER_LOCK_TTL", "30")
    assert LocalBackend(state_path).lock_ttl == 30.0
    assert LocalBackend(state_path, lock_ttl=5).lock_ttl == 5
    monkeypatch.setenv("RECONCILER_LOCK_TTL", "soon")
    with pytest.raises(UsageError, match="RECONCILER_LOCK_TTL is not a number of seconds"):
        LocalBackend(state_path)
