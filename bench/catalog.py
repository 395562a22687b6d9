"""A generated, realistic Helm values catalog for benchmarks and load tests.

Owns: `generate_values` (a values document in the chart's layout, DESIGN §3.1) and
`write_values` (YAML on disk). Deterministic for a given seed, so figures compare across
runs. Does not time anything or assert anything: the benchmark runner does.
"""

from __future__ import annotations

import copy
import os
import random
from typing import Any

import yaml

REGISTRY = "registry.example.com"
MODEL_TYPES = (
    "h2o3_mojo",
    "mlflow_pyfunc",
    "sklearn",
    "xgboost",
    "lightgbm",
    "onnx",
    "pytorch",
    "tensorflow",
    "python_scorer",
    "driverless_mojo",
)
STATES = ("ACTIVE", "DEPRECATED", "DISABLED")
# Mostly ACTIVE, as in a live catalog; the rest exercise warnings and the ceiling rule.
STATE_WEIGHTS = (85, 10, 5)
STATE_REASONS = {
    "DEPRECATED": "superseded, please migrate",
    "DISABLED": "security advisory",
}


def _with_state(rng: random.Random, entry: dict[str, Any]) -> dict[str, Any]:
    state = rng.choices(STATES, weights=STATE_WEIGHTS)[0]
    # ACTIVE is the default, so values files often leave it (and its reason) out.
    if state != "ACTIVE" or rng.random() < 0.5:
        entry["state"] = state
    if state != "ACTIVE":
        entry["stateReason"] = STATE_REASONS[state]
    return entry


def _versions(rng: random.Random, image_id: str, count: int) -> list[dict[str, Any]]:
    major = rng.randint(0, 3)
    minor = rng.randint(0, 9)
    patch = 0
    versions = []
    for _ in range(count):
        patch += rng.randint(1, 4)
        tag = f"v{major}.{minor}.{patch}"
        image: dict[str, Any] = {"repository": f"scorers/{image_id}", "tag": tag}
        # Most versions rely on the catalog's default registry; some name their own.
        if rng.random() < 0.1:
            image = {"registry": f"mirror.{REGISTRY}", **image}
        version: dict[str, Any] = {"image": image}
        # A semantic-version tag makes `version` optional; real catalogs mix both forms.
        if rng.random() < 0.5:
            version["version"] = tag
        _with_state(rng, version)
        # The probe path defaults to /readyz; only some scorers serve it elsewhere.
        if rng.random() < 0.2:
            version["readinessProbePath"] = "/health/ready"
        versions.append(version)
    return versions


def _runtime(
    rng: random.Random, index: int, image_id: str, versions: list[dict[str, Any]]
) -> dict[str, Any]:
    model_type = rng.choice(MODEL_TYPES)
    runtime_image = image_id
    if rng.random() < 0.2:
        runtime_image = f"{image_id}/versions/{rng.choice(versions)['image']['tag']}"
    runtime: dict[str, Any] = {
        "displayName": f"{model_type.replace('_', ' ').title()} Runtime {index:05d}",
        "modelType": model_type,
        "runtimeImage": runtime_image,
        "environmentVariables": {"LOG_LEVEL": rng.choice(("INFO", "DEBUG", "WARNING"))},
    }
    if rng.random() < 0.2:
        runtime["dataVolumeReadOnly"] = rng.random() < 0.5
    if rng.random() < 0.3:
        runtime["description"] = f"Scores {model_type} models with {image_id}"
    if rng.random() < 0.5:
        runtime["environmentVariables"]["WORKERS"] = str(rng.choice((1, 2, 4, 8)))
    if rng.random() < 0.3:
        runtime["scoringEndpoint"] = "v2"
    # The optional Kubernetes settings appear on a minority of runtimes, as in practice.
    if rng.random() < 0.1:
        runtime["volumes"] = [{"name": "scratch", "emptyDir": {"sizeLimit": "1Gi"}}]
    if rng.random() < 0.1:
        runtime["securityContext"] = {"runAsNonRoot": True, "runAsUser": 1000}
    if rng.random() < 0.1:
        runtime["selector"] = {"nodepool": rng.choice(("cpu", "gpu"))}
    return _with_state(rng, runtime)


def generate_values(
    images: int = 2000, versions: int = 5, runtimes: int = 10000, seed: int = 0
) -> dict[str, Any]:
    """A values document with `images` runtime images of `versions` versions each and
    `runtimes` runtimes referencing them (about a fifth pinned to a version)."""
    rng = random.Random(seed)
    catalog_images: dict[str, Any] = {}
    for i in range(1, images + 1):
        image_id = f"scorer-{i:04d}"
        image = {
            "displayName": f"Scorer {i:04d}",
            "description": f"Model scorer image number {i}",
        }
        _with_state(rng, image)
        image["versions"] = _versions(rng, image_id, versions)
        catalog_images[image_id] = image
    image_ids = list(catalog_images)
    catalog_runtimes = {}
    for r in range(1, runtimes + 1):
        image_id = rng.choice(image_ids)
        catalog_runtimes[f"runtime-{r:05d}"] = _runtime(
            rng, r, image_id, catalog_images[image_id]["versions"]
        )
    return {
        "config": {
            "deployer": {
                "composition": {
                    "registry": REGISTRY,
                    "runtimeImages": catalog_images,
                    "runtimes": catalog_runtimes,
                }
            }
        }
    }


def write_values(path: str | os.PathLike[str], doc: dict[str, Any]) -> None:
    """Write `doc` as block-style YAML (writing speed does not matter here)."""
    with open(path, "w", encoding="utf-8") as out:
        yaml.dump(doc, out, Dumper=yaml.CSafeDumper, sort_keys=False, default_flow_style=False)


def change_fraction(doc: dict[str, Any], fraction: float) -> dict[str, Any]:
    """A copy of `doc` in which `fraction` of the resources change.

    Spread evenly over the three kinds: image descriptions, version readiness probes and
    runtime environment variables, so a plan has updates of each.
    """
    changed = copy.deepcopy(doc)
    composition = changed["config"]["deployer"]["composition"]
    images = list(composition["runtimeImages"].values())
    runtimes = list(composition["runtimes"].values())
    versions = [v for image in images for v in image["versions"]]
    total = len(images) + len(versions) + len(runtimes)
    for kind, entries in (("image", images), ("version", versions), ("runtime", runtimes)):
        count = max(1, round(total * fraction * len(entries) / total))
        step = max(1, len(entries) // count)
        for entry in entries[::step][:count]:
            if kind == "image":
                entry["description"] = entry.get("description", "") + " (revised)"
            elif kind == "version":
                entry["readinessProbePath"] = "/health/ready"
            else:
                entry.setdefault("environmentVariables", {})["BENCH_REVISION"] = "2"
    return changed
