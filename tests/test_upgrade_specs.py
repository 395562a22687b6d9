"""The `--upgrade` spec syntax, and the overrides file's `upgrades:` saying the same thing.

Each SDK form of `upgrade_runtime_image` has a spelling on the command line and in an
overrides file; the two read into the same request.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler import errors
from reconciler.inputs.overrides import parse_overrides
from reconciler.inputs.requests import UpgradeRequest
from reconciler.inputs.upgrade_specs import parse_spec

FRAUD = "workspaces/prod/deployments/fraud"

# SDK call, `--upgrade` spec, overrides entry, and the request all three mean.
FORMS: list[tuple[str, str, dict[str, Any], UpgradeRequest]] = [
    (
        "upgrade_runtime_image()",
        "prod/fraud",
        {"deployment": "prod/fraud"},
        UpgradeRequest(FRAUD, (("*", None),)),
    ),
    (
        "upgrade_runtime_image(image)",
        "prod/fraud=h2o3-scorer",
        {"deployment": "prod/fraud", "to": "h2o3-scorer"},
        UpgradeRequest(FRAUD, (("*", "h2o3-scorer"),), single=True),
    ),
    (
        "upgrade_runtime_image(version)",
        "workspaces/prod/deployments/fraud=h2o3-scorer/versions/v1.6.0",
        {"deployment": FRAUD, "to": "h2o3-scorer/versions/v1.6.0"},
        UpgradeRequest(FRAUD, (("*", "h2o3-scorer/versions/v1.6.0"),), single=True),
    ),
    (
        '{"exp-1": image_a, "exp-2": None}',
        "prod/fraud:exp-1=image-a,exp-2=latest",
        {"deployment": "prod/fraud", "compositions": {"exp-1": "image-a", "exp-2": None}},
        UpgradeRequest(FRAUD, (("exp-1", "image-a"), ("exp-2", None))),
    ),
    (
        '{"exp-1": special, "*": None}',
        "prod/fraud:exp-1=special-image,*=latest",
        {"deployment": "prod/fraud", "compositions": {"exp-1": "special-image", "*": "latest"}},
        UpgradeRequest(FRAUD, (("exp-1", "special-image"), ("*", None))),
    ),
    (
        '{"*": standard}',
        "prod/fraud:*=standard-image",
        {"deployment": "prod/fraud", "compositions": {"*": "standard-image"}},
        UpgradeRequest(FRAUD, (("*", "standard-image"),)),
    ),
]


@pytest.mark.parametrize(("form", "spec", "entry", "request_"), FORMS, ids=[f[0] for f in FORMS])
def test_each_sdk_form_has_a_spec_and_an_overrides_entry(
    form: str, spec: str, entry: dict[str, Any], request_: UpgradeRequest
) -> None:
    from_spec = parse_spec(spec)
    assert (from_spec.deployment, from_spec.targets, from_spec.single) == (
        request_.deployment,
        request_.targets,
        request_.single,
    )
    assert from_spec.origin == f"--upgrade {spec}", "errors name the spec"
    (from_file,) = parse_overrides({"upgrades": [entry]}, source="o.yaml").upgrades
    assert (from_file.deployment, from_file.targets, from_file.single) == (
        request_.deployment,
        request_.targets,
        request_.single,
    )
    assert from_file.origin == "o.yaml:upgrades[0]"


def test_equals_latest_is_no_target_at_all() -> None:
    assert parse_spec("prod/fraud=latest").targets == parse_spec("prod/fraud").targets
    assert not parse_spec("prod/fraud=latest").single, "it concerns every composition"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fraud", "does not name a deployment"),
        ("prod/Fraud", "does not name a deployment"),
        ("prod/fraud=", "a target is missing"),
        ("prod/fraud:exp-1", "'exp-1' is not EXPERIMENT=TARGET"),
        ("prod/fraud:exp-1=latest,", "'' is not EXPERIMENT=TARGET"),
        ("prod/fraud:exp-1=a,exp-1=b", "experiment exp-1 is listed twice"),
        ("prod/fraud:Exp_1=latest", "not a valid experiment id"),
    ],
)
def test_a_malformed_spec_names_itself_and_the_syntax(spec: str, message: str) -> None:
    with pytest.raises(errors.InputError) as caught:
        parse_spec(spec)
    assert caught.value.summary.startswith(f"--upgrade {spec}: ")
    assert message in caught.value.summary
    assert "DEPLOYMENT:EXPERIMENT=TARGET" in caught.value.hint


@pytest.mark.parametrize(
    ("entry", "path"),
    [
        ({"deployment": "fraud"}, "upgrades[0].deployment"),
        ({"deployment": "prod/fraud", "to": "x", "compositions": {"*": None}}, "upgrades[0]"),
        ({"deployment": "prod/fraud", "compositions": {"Exp_1": None}}, "upgrades[0]"),
        ({"deployment": "prod/fraud", "compositions": {}}, "upgrades[0].compositions"),
    ],
)
def test_a_malformed_overrides_entry_names_its_path(entry: dict[str, Any], path: str) -> None:
    with pytest.raises(errors.OverridesError) as caught:
        parse_overrides({"upgrades": [entry]}, source="o.yaml")
    assert caught.value.summary.startswith(f"o.yaml:{path}")
