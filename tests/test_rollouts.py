"""How apply rolls deployments: per composition, in parallel, recorded as each completes.

A catalog of one scorer (v1.5.4, v1.6.0) and an LTS runtime pinned to v1.5.4; ten
deployments of two compositions each start there, so a plain upgrade rolls twenty.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from reconciler import errors, render
from reconciler.apply import engine
from reconciler.backends.memory import MemoryBackend
from reconciler.inputs.overrides import parse_overrides
from reconciler.inputs.upgrade_specs import parse_spec
from reconciler.inputs.values import Values, build_values
from reconciler.targets.memory import MemoryTarget

SCORER = "workspaces/global/runtimeImages/h2o3-scorer"
V154, V160 = f"{SCORER}/versions/v1.5.4", f"{SCORER}/versions/v1.6.0"
DEPLOYMENTS = [f"workspaces/prod/deployments/model-{n}" for n in range(10)]


def values(*, v154: str = "ACTIVE") -> Values:
    scorer = {
        "versions": [
            {"image": {"repository": "scorer", "tag": "v1.5.4"}, "state": v154},
            {"image": {"repository": "scorer", "tag": "v1.6.0"}},
        ]
    }
    lts = {"modelType": "h2o3_mojo", "runtimeImage": "h2o3-scorer/versions/v1.5.4"}
    composition = {"runtimeImages": {"h2o3-scorer": scorer}, "runtimes": {"lts": lts}}
    return build_values([("values.yaml", {"config": {"deployer": {"composition": composition}}})])


class Cluster(MemoryTarget):
    """A memory target that counts writes in flight; a rollout to a `failing` address
    fails once, as a Deployment exceeding its progress deadline would."""

    def __init__(self, failing: set[str] | None = None, delay: float = 0.0) -> None:
        super().__init__()
        self.failing = failing or set()
        self.delay = delay
        self.writes: list[str] = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._count = threading.Lock()

    def put(self, address: str, manifest: Mapping[str, Any]) -> None:
        with self._count:
            self.writes.append(address)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            time.sleep(self.delay)
            if address in self.failing:
                self.failing.discard(address)
                raise errors.TargetError(f"cannot roll {address}: ProgressDeadlineExceeded")
            super().put(address, manifest)
        finally:
            with self._count:
                self.in_flight -= 1


def deployed(target: Cluster | None = None) -> tuple[MemoryBackend, Cluster]:
    backend, target = MemoryBackend(), target or Cluster()
    declared = {
        "workspaces": {
            "prod": {
                "deployments": {
                    address.rsplit("/", 1)[1]: {
                        "compositions": [
                            {"experimentId": "exp-a", "runtime": "lts"},
                            {"experimentId": "exp-b", "runtime": "lts"},
                        ]
                    }
                    for address in DEPLOYMENTS
                }
            }
        }
    }
    inputs = engine.Inputs(values=values(), overrides=parse_overrides(declared, source="d.yaml"))
    assert engine.apply(backend, target, inputs=inputs).ok
    return backend, target


def upgrade_all() -> engine.Inputs:
    return engine.Inputs(upgrades=tuple(parse_spec(a) for a in DEPLOYMENTS))


def pins(result: engine.ApplyResult) -> dict[tuple[str, str], str]:
    assert result.state is not None
    return {
        (d.address, c.experiment_id): c.image_version
        for d in result.state.deployments
        for c in d.compositions
    }


def test_compositions_roll_in_parallel_within_the_bound() -> None:
    backend, target = deployed(Cluster(delay=0.02))
    target.most_in_flight = 0
    result = engine.apply(backend, target, inputs=upgrade_all(), parallelism=4)
    assert result.ok
    assert len(result.rolled) == 20
    assert 1 < target.most_in_flight <= 4
    assert set(pins(result).values()) == {V160}


def image_in(target: Cluster, address: str) -> str:
    return target.objects[address]["spec"]["template"]["spec"]["containers"][0]["image"]


def test_a_failed_rollout_is_rolled_back_and_the_rest_are_recorded() -> None:
    broken = f"{DEPLOYMENTS[3]}/compositions/exp-b"
    backend, target = deployed()
    target.failing.add(broken)
    result = engine.apply(backend, target, inputs=upgrade_all())
    assert not result.ok
    assert [(c.address, e) for c, e, _ in result.roll_failed] == [(DEPLOYMENTS[3], "exp-b")]
    recorded = pins(result)
    assert recorded[(DEPLOYMENTS[3], "exp-b")] == V154, "the state keeps the old version"
    assert image_in(target, broken) == "scorer:v1.5.4", "and the target runs it again"
    assert recorded[(DEPLOYMENTS[3], "exp-a")] == V160, "its sibling rolled"
    assert image_in(target, f"{DEPLOYMENTS[3]}/compositions/exp-a") == "scorer:v1.6.0"
    assert sum(v == V160 for v in recorded.values()) == 19

    report = render.apply_text(
        len(result.applied),
        result.failed,
        result.skipped,
        serial=result.state.serial if result.state else None,
        interrupted=result.interrupted,
        rolled=result.rolled,
        roll_failed=result.roll_failed,
        roll_skipped=result.roll_skipped,
    )
    assert (
        f"  x {DEPLOYMENTS[3]}: exp-b failed: cannot roll {broken}: ProgressDeadlineExceeded; "
        "rolled back to v1.5.4; done: exp-a v1.5.4 → v1.6.0" in report
    )
    assert "Apply failed! 0 applied, 0 failed, 0 skipped; deployments: 9 rolled, 1 failed." in (
        report
    )

    retry = engine.plan(backend, upgrade_all())
    (change,) = retry.deployments
    assert [u.experiment_id for u in change.upgrades] == ["exp-b"], "only what is missing"
    assert engine.apply(backend, target, inputs=upgrade_all()).ok
    assert not engine.plan(backend, upgrade_all()).has_changes


def test_a_rollout_waits_for_the_catalog_change_it_needs() -> None:
    backend, target = deployed()
    team_image = {"versions": [{"image": {"repository": "team/scorer", "tag": "1.0.0"}}]}
    requests = {
        "workspaces": {"prod": {"runtimeImages": {"team-scorer": team_image}}},
        "upgrades": [
            {
                "deployment": DEPLOYMENTS[0],
                "compositions": {"exp-a": "team-scorer/versions/v1.0.0", "exp-b": None},
            }
        ],
    }
    target.failing.add("workspaces/prod/runtimeImages/team-scorer/versions/v1.0.0")
    overrides = parse_overrides(requests, source="u.yaml")
    result = engine.apply(backend, target, inputs=engine.Inputs(overrides=overrides))
    assert [(c.address, e) for c, e in result.roll_skipped] == [(DEPLOYMENTS[0], "exp-a")]
    assert [(c.address, e) for c, e in result.rolled] == [(DEPLOYMENTS[0], "exp-b")]
    assert pins(result)[(DEPLOYMENTS[0], "exp-a")] == V154


def test_a_stop_request_finishes_the_batch_in_flight_and_reruns_converge() -> None:
    stop = threading.Event()
    backend, _ = deployed()

    class StopOnFirstRoll(Cluster):
        def put(self, address: str, manifest: Mapping[str, Any]) -> None:
            super().put(address, manifest)
            stop.set()  # as a SIGTERM arriving mid-rollout would

    result = engine.apply(
        backend,
        StopOnFirstRoll(),
        inputs=upgrade_all(),
        stop=stop,
        batching=engine.Batching(size=4),
    )
    assert result.interrupted and not result.ok
    rolled = sum(v == V160 for v in pins(result).values())
    assert 0 < rolled < 20 and rolled == len(result.rolled)
    finished = engine.apply(backend, Cluster(), inputs=upgrade_all())
    assert finished.ok and set(pins(finished).values()) == {V160}


def test_disabling_a_version_in_use_never_touches_running_deployments() -> None:
    backend, target = deployed()
    target.writes.clear()
    result = engine.apply(backend, target, inputs=engine.Inputs(values=values(v154="DISABLED")))
    assert result.ok
    assert target.writes == [V154], "only the version's own object"
    assert set(pins(result).values()) == {V154}
    assert len(result.plan.available) == 20
    assert all(a.available == V160 and "keeps running" in a.reason for a in result.plan.available)
