"""How apply behaves: order, partial failure, persistence, idempotence, locking."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from reconciler import errors
from reconciler.apply import engine
from reconciler.backends.local import LocalBackend
from reconciler.backends.memory import MemoryBackend
from reconciler.inputs.values import load_values
from reconciler.planning import state
from reconciler.planning.plan import Action
from reconciler.targets.directory import DirTarget
from reconciler.targets.memory import MemoryTarget
from tests.runner import EXAMPLES

VALUES = load_values([EXAMPLES / "values.yaml"])


class RecordingTarget(MemoryTarget):
    """A memory target that records the order of calls and fails for chosen addresses."""

    def __init__(self, failing: set[str] | None = None) -> None:
        super().__init__()
        self.failing = failing or set()
        self.calls: list[tuple[str, str]] = []
        self._order = threading.Lock()

    def put(self, address: str, manifest: Mapping[str, Any]) -> None:
        with self._order:
            self.calls.append(("put", address))
        if address in self.failing:
            raise errors.TargetError(f"cannot write {address}: simulated outage")
        super().put(address, manifest)

    def delete(self, address: str) -> None:
        with self._order:
            self.calls.append(("delete", address))
        super().delete(address)


def test_apply_writes_parents_before_children() -> None:
    target = RecordingTarget()
    result = engine.apply(MemoryBackend(), target, inputs=engine.Inputs(values=VALUES))
    assert result.ok
    position = {address: i for i, (_, address) in enumerate(target.calls)}
    for address in position:
        if "/versions/" in address:
            assert position[address.split("/versions/")[0]] < position[address]
        if "/runtimes/" in address:
            images = [a for a in position if "/runtimeImages/" in a]
            assert all(position[image] < position[address] for image in images)


def test_a_failed_change_skips_its_dependents_and_the_rest_lands() -> None:
    broken = "workspaces/global/runtimeImages/h2oai-dai-mojo-scorer/versions/v1.11.2"
    backend, target = MemoryBackend(), RecordingTarget(failing={broken})
    result = engine.apply(backend, target, inputs=engine.Inputs(values=VALUES))
    assert not result.ok
    assert [change.address for change, _ in result.failed] == [broken]
    assert [c.address for c in result.skipped] == ["workspaces/global/runtimes/dai-mojo-lts"]
    recorded = result.state.by_address if result.state else {}
    assert broken not in recorded
    assert "workspaces/global/runtimes/dai-mojo-lts" not in recorded
    assert "workspaces/global/runtimes/dai-mojo" in recorded  # unrelated changes landed

    # Once the target recovers, a re-run converges and only the missing parts are planned.
    target.failing.clear()
    retry = engine.plan(backend, engine.Inputs(values=VALUES))
    assert sorted(c.address for c in retry.changes) == sorted(
        [broken, "workspaces/global/runtimes/dai-mojo-lts"]
    )
    assert engine.apply(backend, target, inputs=engine.Inputs(values=VALUES)).ok
    assert not engine.plan(backend, engine.Inputs(values=VALUES)).has_changes


def test_second_apply_is_a_no_op() -> None:
    backend, target = MemoryBackend(), RecordingTarget()
    first = engine.apply(backend, target, inputs=engine.Inputs(values=VALUES))
    calls = len(target.calls)
    second = engine.apply(backend, target, inputs=engine.Inputs(values=VALUES))
    assert first.state is not None and first.state.serial == 1
    assert second.state is None and not second.plan.has_changes
    assert len(target.calls) == calls
    blob = backend.read()
    assert blob is not None and state.decode(blob.data, source="memory").serial == 1


def test_long_applies_persist_in_batches() -> None:
    written: list[int] = []

    class Recording(MemoryBackend):
        def write(self, data: bytes, *, if_match: str | None) -> str:
            written.append(len(state.decode(data, source=self.name).resources))
            return super().write(data, if_match=if_match)

    backend = Recording()
    result = engine.apply(
        backend,
        MemoryTarget(),
        inputs=engine.Inputs(values=VALUES),
        batching=engine.Batching(size=5, persist_every=5),
    )
    assert result.ok and result.state is not None
    # 22 resources, handed over at most 5 of one kind at a time, persisted as soon as 5
    # or more landed since the last write: every write records more, each a new serial.
    assert written == sorted(written) and len(set(written)) == len(written)
    assert written[-1] == 22 and len(written) >= 22 // 5
    most = 5 + 5 - 1  # persist_every reached by a batch that started one short of it
    assert all(
        later - earlier <= most for earlier, later in zip([0, *written[:-1]], written, strict=True)
    )
    assert result.state.serial == len(written)


def test_a_stop_request_persists_what_was_done_and_reruns_converge() -> None:
    backend, stop = MemoryBackend(), threading.Event()

    class StopAfterFirstWrite(MemoryTarget):
        def put(self, address: str, manifest: Mapping[str, Any]) -> None:
            super().put(address, manifest)
            stop.set()  # as a SIGTERM arriving mid-apply would

    result = engine.apply(
        backend,
        StopAfterFirstWrite(),
        inputs=engine.Inputs(values=VALUES),
        stop=stop,
        batching=engine.Batching(size=5),
    )
    assert result.interrupted and not result.ok
    assert result.state is not None and 0 < len(result.state.resources) < 22
    backend.unlock(backend.lock(operation="check").id)  # the lock was released
    finished = engine.apply(backend, MemoryTarget(), inputs=engine.Inputs(values=VALUES))
    assert finished.ok and finished.state is not None
    assert len(finished.state.resources) == 22


def test_replace_gives_a_new_uid_and_rewrites_the_object(tmp_path: Path) -> None:
    backend, target = LocalBackend(tmp_path / "s.json"), DirTarget(tmp_path / "cluster")
    first = engine.apply(backend, target, inputs=engine.Inputs(values=VALUES))
    assert first.state is not None
    address = "workspaces/global/runtimes/h2o3-mojo"
    old_uid = first.state.by_address[address].uid
    changed = load_values(
        [EXAMPLES / "values.yaml"],
        sets=["config.deployer.composition.runtimes.h2o3-mojo.modelType=h2o3"],
    )
    result = engine.apply(backend, target, inputs=engine.Inputs(values=changed))
    (change,) = result.plan.changes
    assert change.action is Action.REPLACE and change.reason == "model_type cannot change in place"
    assert result.state is not None
    assert result.state.by_address[address].uid not in ("", old_uid)
    assert "modelType: h2o3\n" in target.path_of(address).read_text()


def test_apply_refuses_while_another_run_holds_the_lock(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "s.json")
    held = backend.lock(operation="apply")
    with pytest.raises(errors.LockHeldError) as caught:
        engine.apply(backend, MemoryTarget(), inputs=engine.Inputs(values=VALUES))
    assert held.id in str(caught.value)
    backend.unlock(held.id)
    assert engine.apply(backend, MemoryTarget(), inputs=engine.Inputs(values=VALUES)).ok


def test_a_writer_cannot_overwrite_a_newer_state() -> None:
    backend = MemoryBackend()
    engine.apply(backend, MemoryTarget(), inputs=engine.Inputs(values=VALUES))
    blob = backend.read()
    assert blob is not None
    document = state.decode(blob.data, source="memory")
    newer = state.successor(document, document.by_address, tool_version="x")
    backend.write(state.encode(newer), if_match=blob.etag)
    with pytest.raises(errors.ConflictError):
        backend.write(state.encode(newer), if_match=blob.etag)  # stale etag
    with pytest.raises(errors.ConflictError):
        state.check_successor(newer, document)  # lower serial


def test_progress_is_reported_after_each_batch_up_to_the_total() -> None:
    seen: list[tuple[int, int]] = []
    result = engine.apply(
        MemoryBackend(),
        MemoryTarget(),
        inputs=engine.Inputs(values=VALUES),
        progress=lambda done, total: seen.append((done, total)),
        batching=engine.Batching(size=5),
    )
    assert result.ok
    assert len(seen) > 1
    assert [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert seen[-1] == (22, 22)
