"""Every state backend keeps the same promises: memory, local file and S3 alike.

Each test opens "clients" of one state through `open_state()`, as separate runs would
(the memory backend is one object, so its clients are the same one). The S3 cases run
against a real SeaweedFS server; the local ones against a temporary directory.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Callable

import pytest

from reconciler.backends import Backend, LockInfo, open_backend
from reconciler.backends.memory import MemoryBackend
from reconciler.errors import ConflictError, LockError, LockHeldError

OpenState = Callable[[], Backend]
WRITERS = 6
WRITER_PROCESSES = 4
WON, LOST = 0, 10  # exit codes of the writer processes


@pytest.fixture(params=["memory", "local", "s3"])
def open_state(request: pytest.FixtureRequest, tmp_path) -> OpenState:
    if request.param == "memory":
        shared = MemoryBackend()
        return lambda: shared
    if request.param == "local":
        spec = str(tmp_path / "state" / "reconciler.state.json")
    else:
        spec = request.getfixturevalue("s3_url")
    return lambda: open_backend(spec)


@pytest.fixture
def state_spec(request: pytest.FixtureRequest, tmp_path) -> str:
    """A state that separate processes can share: local and S3 only."""
    if request.param == "local":
        return str(tmp_path / "state" / "reconciler.state.json")
    return request.getfixturevalue("s3_url")


def test_a_new_state_reads_as_none(open_state: OpenState) -> None:
    assert open_state().read() is None


def test_create_stores_the_bytes_under_the_returned_etag(open_state: OpenState) -> None:
    etag = open_state().write(b'{"serial": 1}', if_match=None)

    blob = open_state().read()
    assert blob is not None
    assert (blob.data, blob.etag) == (b'{"serial": 1}', etag)


def test_creating_an_existing_state_conflicts(open_state: OpenState) -> None:
    open_state().write(b"first", if_match=None)

    with pytest.raises(ConflictError):
        open_state().write(b"second", if_match=None)

    assert _data(open_state()) == b"first"


def test_update_with_the_etag_read_replaces_the_state(open_state: OpenState) -> None:
    backend = open_state()
    first = backend.write(b"v1", if_match=None)

    second = backend.write(b"v2", if_match=first)

    blob = open_state().read()
    assert blob is not None
    assert (blob.data, blob.etag) == (b"v2", second)
    assert second != first


def test_update_with_a_stale_etag_conflicts_and_changes_nothing(open_state: OpenState) -> None:
    backend = open_state()
    stale = backend.write(b"v1", if_match=None)
    backend.write(b"v2", if_match=stale)

    with pytest.raises(ConflictError) as caught:
        open_state().write(b"v3 from a stale plan", if_match=stale)

    assert _data(open_state()) == b"v2"
    assert caught.value.hint


def test_concurrent_writers_with_the_same_etag_exactly_one_wins(open_state: OpenState) -> None:
    etag = open_state().write(b"base", if_match=None)
    clients = [open_state() for _ in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    outcomes: list[str] = []

    def write(index: int) -> None:
        payload = f"writer {index}".encode()
        start.wait()
        try:
            clients[index].write(payload, if_match=etag)
            outcomes.append(payload.decode())
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=write, args=(index,)) for index in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    winners = [outcome for outcome in outcomes if outcome != "conflict"]
    assert len(outcomes) == WRITERS
    assert len(winners) == 1
    assert _data(open_state()) == winners[0].encode()


@pytest.mark.parametrize("state_spec", ["local", "s3"], indirect=True)
def test_concurrent_writer_processes_with_the_same_etag_exactly_one_wins(
    state_spec: str,
) -> None:
    etag = open_backend(state_spec).write(b"base", if_match=None)
    context = multiprocessing.get_context("spawn")  # fork would copy boto's locks mid-use
    start = context.Barrier(WRITER_PROCESSES)
    writers = [
        context.Process(target=_write_in_process, args=(state_spec, etag, index, start))
        for index in range(WRITER_PROCESSES)
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)

    codes = sorted(writer.exitcode for writer in writers)
    assert codes == [WON] + [LOST] * (WRITER_PROCESSES - 1)
    assert _data(open_backend(state_spec)).startswith(b"process ")


def test_lock_then_unlock_frees_the_lock(open_state: OpenState) -> None:
    backend = open_state()
    lock = backend.lock(operation="apply")
    assert isinstance(lock, LockInfo)
    assert lock.operation == "apply"

    backend.unlock(lock.id)

    other = open_state()
    again = other.lock(operation="apply")
    assert again.id != lock.id
    other.unlock(again.id)


def test_a_second_lock_is_refused_naming_the_holder(open_state: OpenState) -> None:
    holder_backend = open_state()
    holder = holder_backend.lock(operation="apply")

    with pytest.raises(LockHeldError) as caught:
        open_state().lock(operation="plan")

    message = str(caught.value)
    for part in (holder.id, holder.who, holder.host, "apply"):
        assert part in message
    assert holder.id in caught.value.hint
    holder_backend.unlock(holder.id)


def test_unlock_with_a_wrong_id_names_the_holder_and_keeps_the_lock(
    open_state: OpenState,
) -> None:
    holder_backend = open_state()
    holder = holder_backend.lock(operation="apply")

    with pytest.raises(LockError) as caught:
        open_state().unlock("not-the-holder")

    assert not isinstance(caught.value, LockHeldError)
    assert holder.id in str(caught.value)
    with pytest.raises(LockHeldError):
        open_state().lock(operation="apply")
    holder_backend.unlock(holder.id)


def test_unlock_without_a_lock_says_it_is_not_locked(open_state: OpenState) -> None:
    with pytest.raises(LockError, match="not locked"):
        open_state().unlock("any-id")


def test_lock_timeout_waits_then_fails(open_state: OpenState) -> None:
    holder_backend = open_state()
    holder = holder_backend.lock(operation="apply")
    began = time.monotonic()

    with pytest.raises(LockHeldError) as caught:
        open_state().lock(operation="apply", timeout=0.8)

    waited = time.monotonic() - began
    assert 0.8 <= waited < 5
    assert "waiting" in caught.value.summary
    assert holder.id in str(caught.value)
    holder_backend.unlock(holder.id)


def test_lock_timeout_takes_the_lock_once_it_is_released(open_state: OpenState) -> None:
    holder_backend = open_state()
    holder = holder_backend.lock(operation="apply")
    release = threading.Timer(0.4, holder_backend.unlock, args=(holder.id,))
    release.start()
    began = time.monotonic()

    waiter = open_state()
    lock = waiter.lock(operation="apply", timeout=10)

    assert time.monotonic() - began >= 0.3
    assert lock.id != holder.id
    release.join()
    waiter.unlock(lock.id)


def test_force_unlock_by_id_frees_a_lock_held_elsewhere(open_state: OpenState) -> None:
    holder_backend = open_state()
    holder = holder_backend.lock(operation="apply")

    open_state().unlock(holder.id)

    other = open_state()
    taken = other.lock(operation="apply")
    assert taken.id != holder.id
    with pytest.raises(LockError):
        holder_backend.unlock(holder.id)  # the lock is no longer the former holder's
    other.unlock(taken.id)


def _data(backend: Backend) -> bytes:
    blob = backend.read()
    assert blob is not None
    return blob.data


def _write_in_process(spec: str, etag: str, index: int, start: threading.Barrier) -> None:
    import sys

    backend = open_backend(spec)
    start.wait()
    try:
        backend.write(f"process {index}".encode(), if_match=etag)
    except ConflictError:
        sys.exit(LOST)
    sys.exit(WON)
