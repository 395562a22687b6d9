"""Every error a user can hit through the SDK is typed, says what to do, and changes nothing.

Also: concurrent SDK users, and SDK users racing a Helm values apply, never lose each
other's changes (the state lock, compare-and-swap writes, and SDK calls that re-check
their request against the state they are applied to).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from reconciler import errors
from reconciler.apply import engine
from reconciler.inputs.values import load_values

VALUES = {
    "config": {
        "deployer": {
            "composition": {
                "runtimeImages": {
                    "h2oai-h2o3mojo-scorer": {
                        "displayName": "H2O-3 MOJO Scorer",
                        "versions": [
                            {"image": {"repository": "h2oai-h2o3mojo-scorer", "tag": "v1.6.0"}}
                        ],
                    }
                },
                "runtimes": {
                    "h2o3-mojo": {
                        "displayName": "H2O-3 MOJO Runtime",
                        "modelType": "h2o3_mojo",
                        "runtimeImage": "h2oai-h2o3mojo-scorer",
                        "state": "DISABLED",
                        "stateReason": "CVE-2025-1234",
                    }
                },
            }
        }
    }
}


class World:
    """A platform catalog from values, a team workspace with an image and a runtime."""

    def __init__(self, tmp_path: Path) -> None:
        self.state_file = tmp_path / "state/reconciler.state.json"
        self.values_file = tmp_path / "values.yaml"
        self.values_file.write_text(yaml.safe_dump(VALUES))
        self.client = self.connect()
        self.apply_values()
        self.team = self.client.workspaces.create("fraud-team")
        self.other_team = self.client.workspaces.create("risk-team")
        self.image = self.team.runtimes.images.create(
            name="Fraud Scorer", docker_image="registry.example.com/fraud/scorer:2.0.0"
        )
        self.runtime = self.team.runtimes.create(
            name="Fraud Runtime", runtime_image=self.image, model_type="custom_fraud"
        )
        self.tmp_path = tmp_path

    def connect(self, **options: Any) -> reconciler.Client:
        return reconciler.Client(
            state=self.state_file, target=f"dir:{self.state_file.parent}/cluster", **options
        )

    def apply_values(self, **options: Any) -> None:
        inputs = engine.Inputs(values=load_values([self.values_file]))
        result = engine.apply(self.client.backend, self.client.target, inputs=inputs, **options)
        assert result.ok

    @property
    def bootstrap_runtime(self) -> Any:
        return self.team.runtimes.get("h2o3-mojo")

    @property
    def bootstrap_image(self) -> Any:
        return self.team.runtimes.images.get("h2oai-h2o3mojo-scorer")


@pytest.fixture
def world(tmp_path: Path) -> World:
    return World(tmp_path)


# (call, error type, words the message must contain)
CASES: dict[str, tuple[Callable[[World], Any], type[errors.ReconcilerError], tuple[str, ...]]] = {
    "non-semver tag without version": (
        lambda w: w.team.runtimes.images.create(name="Nightly", docker_image="repo/scorer:latest"),
        errors.InputError,
        ("'latest' is not a semantic version", 'version="v1.0.0"'),
    ),
    "non-semver tag for a new version": (
        lambda w: w.image.versions.create("registry.example.com/fraud/scorer:nightly"),
        errors.InputError,
        ("'nightly' is not a semantic version", "version="),
    ),
    "a version given that is not semantic": (
        lambda w: w.image.update(docker_image="repo/scorer:latest", version="newest"),
        errors.InputError,
        ("'newest' is not a semantic version", "v1.2.3"),
    ),
    "version without docker image": (
        lambda w: w.image.update(version="v3.0.0"),
        errors.UsageError,
        ("no docker_image", "pass both"),
    ),
    "duplicate version": (
        lambda w: w.image.versions.create("registry.example.com/fraud/scorer:2.0.0"),
        errors.ConflictError,
        ("v2.0.0", "already exists", "new version number"),
    ),
    "unknown runtime uid": (
        lambda w: w.team.runtimes.get("0b7f3c1e-0000-0000-0000-000000000000"),
        errors.NotFoundError,
        ("no runtime with uid or id", "list()"),
    ),
    "unknown image uid": (
        lambda w: w.team.runtimes.images.get("no-such-image"),
        errors.NotFoundError,
        ("no runtime image with uid or id 'no-such-image'", "list()"),
    ),
    "unknown version": (
        lambda w: w.image.versions.get("v9.9.9"),
        errors.NotFoundError,
        ("v9.9.9", "list()"),
    ),
    "immutable model_type": (
        lambda w: w.runtime.update(model_type="xgboost"),
        errors.ImmutableFieldError,
        ("model_type", "cannot change after creation", "delete and recreate the runtime"),
    ),
    "immutable runtime_image": (
        lambda w: w.runtime.update(runtime_image=w.bootstrap_image),
        errors.ImmutableFieldError,
        ("runtime_image", "delete and recreate the runtime"),
    ),
    "update of a bootstrap-managed runtime": (
        lambda w: w.bootstrap_runtime.update(description="mine now"),
        errors.ManagedByBootstrapError,
        ("bootstrap-managed", "values.yaml and redeploy"),
    ),
    "delete of a bootstrap-managed runtime": (
        lambda w: w.bootstrap_runtime.delete(),
        errors.ManagedByBootstrapError,
        ("cannot delete", "remove it from the Helm values.yaml and redeploy"),
    ),
    "update of a bootstrap-managed image": (
        lambda w: w.bootstrap_image.update(name="Renamed"),
        errors.ManagedByBootstrapError,
        ("cannot update", "values.yaml and redeploy"),
    ),
    "new version of a bootstrap-managed image": (
        lambda w: w.bootstrap_image.versions.create("repo/h2oai-h2o3mojo-scorer:1.7.0"),
        errors.ManagedByBootstrapError,
        ("cannot add a version to", "values.yaml and redeploy"),
    ),
    "delete of a bootstrap-managed image": (
        lambda w: w.bootstrap_image.delete(),
        errors.ManagedByBootstrapError,
        ("cannot delete", "values.yaml and redeploy"),
    ),
    "enable blocked by the platform": (
        lambda w: w.bootstrap_runtime.enable(),
        errors.CeilingError,
        ("DISABLED by Helm values: CVE-2025-1234", "values.yaml and redeploy"),
    ),
    "delete of an image a runtime uses": (
        lambda w: w.image.delete(),
        errors.PlanError,
        ("still use it", "workspaces/fraud-team/runtimes/fraud-runtime", "delete those runtimes"),
    ),
    "duplicate image name": (
        lambda w: w.team.runtimes.images.create(name="Fraud scorer!", docker_image="x/y:1.0.0"),
        errors.ConflictError,
        ("fraud-scorer already exists", "choose another name"),
    ),
    "duplicate runtime name": (
        lambda w: w.team.runtimes.create(
            name="Fraud Runtime", runtime_image=w.image, model_type="other"
        ),
        errors.ConflictError,
        ("fraud-runtime already exists", "choose another name"),
    ),
    "name clashing with a bootstrap-managed id": (
        lambda w: w.team.runtimes.create(
            name="H2O3 MOJO", runtime_image=w.image, model_type="h2o3_mojo"
        ),
        errors.ConflictError,
        ("workspaces/global/runtimes/h2o3-mojo already exists", "choose another name"),
    ),
    "name that gives no id": (
        lambda w: w.team.runtimes.create(name="2024 ★", runtime_image=w.image, model_type="x"),
        errors.InputError,
        ("cannot derive a runtime id", "starts with a letter"),
    ),
    "creating in the global workspace": (
        lambda w: w.client.workspaces.get("global").runtimes.images.create(
            name="Mine", docker_image="x/y:1.0.0"
        ),
        errors.ManagedByBootstrapError,
        ("bootstrap-managed catalog", "workspace of your own"),
    ),
    "runtime image of another workspace": (
        lambda w: w.other_team.runtimes.create(name="Risk", runtime_image=w.image, model_type="x"),
        errors.InputError,
        ("does not see", "bootstrap-managed one of global"),
    ),
    "runtime image that does not exist": (
        lambda w: w.team.runtimes.create(name="R", runtime_image="nope", model_type="x"),
        errors.NotFoundError,
        ("does not exist", "images.list()"),
    ),
    "environment variables that are not strings": (
        lambda w: w.runtime.update(environment_variables={"GPU_COUNT": 1}),
        errors.InputError,
        ("environment_variables.GPU_COUNT", "maps names to strings"),
    ),
    "unknown filter": (
        lambda w: w.team.runtimes.list(colour="red"),
        errors.UsageError,
        ("cannot filter", "model_type"),
    ),
    "workspace not found": (
        lambda w: w.client.workspaces.get("no-such-team"),
        errors.NotFoundError,
        ("workspace 'no-such-team' does not exist", "client.workspaces.create('no-such-team')"),
    ),
    "workspace that exists already": (
        lambda w: w.client.workspaces.create("fraud-team"),
        errors.ConflictError,
        ("already exists", "client.workspaces.get('fraud-team')"),
    ),
    "workspace global": (
        lambda w: w.client.workspaces.create("global"),
        errors.ConflictError,
        ("workspace global already exists", "client.workspaces.get('global')"),
    ),
    "duplicate uid": (
        lambda w: w.team.runtimes.images.create(
            name="Other", docker_image="x/y:1.0.0", uid=w.runtime.uid
        ),
        errors.ConflictError,
        ("already used by workspaces/fraud-team/runtimes/fraud-runtime", "leave uid out"),
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_error_is_typed_says_what_to_do_and_changes_nothing(world: World, case: str) -> None:
    call, error_type, words = CASES[case]
    before = world.state_file.read_bytes()
    with pytest.raises(error_type) as caught:
        call(world)
    assert isinstance(caught.value, errors.ReconcilerError)
    assert caught.value.hint, "every error says what to do next"
    message = str(caught.value)
    for word in words:
        assert word in message
    assert world.state_file.read_bytes() == before


def test_a_deleted_object_says_so(world: World) -> None:
    stale = world.team.runtimes.get(world.runtime.uid)
    world.runtime.delete()
    with pytest.raises(errors.NotFoundError, match="no longer exists"):
        _ = stale.environment_variables
    with pytest.raises(errors.NotFoundError, match="does not exist"):
        stale.deprecate(reason="gone")


def test_a_held_lock_fails_fast_naming_the_holder(world: World) -> None:
    holder = world.client.backend.lock(operation="apply")
    try:
        with pytest.raises(errors.LockHeldError) as caught:
            world.runtime.deprecate(reason="waiting")
        assert "apply" in str(caught.value)
    finally:
        world.client.backend.unlock(holder.id)
    assert world.runtime.state == "ACTIVE"


def test_an_object_reads_another_clients_change(world: World) -> None:
    other = world.connect().workspaces.get("fraud-team").runtimes.get(world.runtime.uid)
    other.update(description="changed elsewhere")
    assert world.runtime.description == "changed elsewhere"


# Concurrency ----------------------------------------------------------------------------

ROUNDS = 6


def run_together(*workers: Callable[[], None]) -> None:
    """Start the workers at once; re-raise the first failure."""
    start = threading.Barrier(len(workers))
    failures: list[BaseException] = []

    def wrapped(work: Callable[[], None]) -> None:
        try:
            start.wait()
            work()
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=wrapped, args=(work,)) for work in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def test_two_sdk_users_creating_at_once_both_land(world: World) -> None:
    def user(name: str) -> Callable[[], None]:
        def work() -> None:
            client = world.connect(lock_timeout=10)
            workspace = client.workspaces.get("fraud-team")
            image = workspace.runtimes.images.create(
                name=f"{name} scorer", docker_image="r/s:1.0.0"
            )
            for i in range(ROUNDS):
                workspace.runtimes.create(
                    name=f"{name} runtime {i}", runtime_image=image, model_type=name
                )

        return work

    run_together(user("alice"), user("bob"))

    for name in ("alice", "bob"):
        assert world.team.runtimes.count(model_type=name) == ROUNDS
    assert world.team.runtimes.images.count() == 4
    assert not engine.plan(world.client.backend, engine.Inputs()).has_changes


def test_two_sdk_users_updating_one_runtime_keep_both_changes(world: World) -> None:
    def describe() -> None:
        runtime = world.connect(lock_timeout=10).runtimes.get(world.runtime.uid)
        for i in range(ROUNDS):
            runtime.update(description=f"round {i}")

    def configure() -> None:
        runtime = world.connect(lock_timeout=10).runtimes.get(world.runtime.uid)
        for i in range(ROUNDS):
            runtime.update(environment_variables={"ROUND": str(i)})

    run_together(describe, configure)

    assert world.runtime.description == f"round {ROUNDS - 1}"
    assert world.runtime.environment_variables == {"ROUND": str(ROUNDS - 1)}


def test_sdk_changes_racing_helm_applies_are_all_kept(world: World) -> None:
    def helm() -> None:
        for _ in range(ROUNDS):
            world.apply_values(lock_timeout=10)

    def user() -> None:
        client = world.connect(lock_timeout=10)
        client.runtimes.images.get("h2oai-h2o3mojo-scorer").deprecate(reason="Prefer ours")
        workspace = client.workspaces.get("fraud-team")
        for i in range(ROUNDS):
            workspace.runtimes.create(
                name=f"Runtime {i}", runtime_image=world.image, model_type="raced"
            )

    run_together(helm, user)

    assert world.team.runtimes.count(model_type="raced") == ROUNDS
    assert world.bootstrap_image.state == "DEPRECATED"
    assert world.bootstrap_image.state_reason == "Prefer ours"
    inputs = engine.Inputs(values=load_values([world.values_file]))
    assert not engine.plan(world.client.backend, inputs).has_changes
