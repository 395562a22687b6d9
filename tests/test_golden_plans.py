"""Golden plan cases: inputs in, expected plan out.

Each directory under tests/golden/ is one case:
- `prior/values.yaml`, `prior/overrides.yaml`, `prior/upgrades.txt` (optional): applied
  first, to build the prior state (an overrides file may declare deployments); then
  `prior-2/`, `prior-3/`, … in order, when a case needs a history of several applies;
- `values.yaml`, `overrides.yaml`, `upgrades.txt` (optional): the inputs of the plan under
  test. `upgrades.txt` holds one `--upgrade` spec per line (`#` starts a comment), as the
  command line gives them;
- `expected.txt`: the plan as `reconciler plan` prints it (no colour), or
  `expected-error.txt`: the error it must fail with.

Set UPDATE_GOLDEN=1 to rewrite the expectations after a deliberate change; review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler import errors, render
from reconciler.apply import engine
from reconciler.backends.memory import MemoryBackend
from reconciler.inputs.overrides import load_overrides
from reconciler.inputs.upgrade_specs import parse_spec
from reconciler.inputs.values import load_values
from reconciler.targets.memory import MemoryTarget

GOLDEN = Path(__file__).parent / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


def upgrade_specs(path: Path) -> list[str]:
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def inputs_in(directory: Path) -> engine.Inputs | None:
    values = directory / "values.yaml"
    overrides = directory / "overrides.yaml"
    upgrades = directory / "upgrades.txt"
    if not values.exists() and not overrides.exists() and not upgrades.exists():
        return None
    return engine.Inputs(
        values=load_values([values]) if values.exists() else None,
        overrides=load_overrides(overrides) if overrides.exists() else None,
        upgrades=tuple(parse_spec(spec) for spec in upgrade_specs(upgrades))
        if upgrades.exists()
        else (),
    )


def prior_stages(case: Path) -> list[Path]:
    """`prior/`, then `prior-2/`, `prior-3/`, … as long as they exist."""
    stages, n = [case / "prior"], 2
    while (case / f"prior-{n}").is_dir():
        stages.append(case / f"prior-{n}")
        n += 1
    return stages


def outcome(case: Path) -> tuple[str, str]:
    backend, target = MemoryBackend(), MemoryTarget()
    for stage in prior_stages(case):
        prior = inputs_in(stage)
        if prior is not None:
            assert engine.apply(backend, target, inputs=prior).ok, stage.name
    cwd = os.getcwd()
    os.chdir(case)  # errors name files relative to the case, as a user running there sees them
    try:
        inputs = inputs_in(Path("."))
        assert inputs is not None, f"{case.name} has no inputs"
        plan = engine.plan(backend, inputs)
    except errors.ReconcilerError as exc:
        return "expected-error.txt", render.error_text(exc)
    finally:
        os.chdir(cwd)
    return "expected.txt", render.plan_text(plan)


@pytest.mark.parametrize("name", CASES)
def test_golden_plan(name: str) -> None:
    case = GOLDEN / name
    kind, actual = outcome(case)
    expected_file = case / kind
    if os.environ.get("UPDATE_GOLDEN"):
        for stale in ("expected.txt", "expected-error.txt"):
            (case / stale).unlink(missing_ok=True)
        expected_file.write_text(actual)
    assert expected_file.exists(), f"{name}: got {kind}:\n{actual}"
    assert actual == expected_file.read_text()
