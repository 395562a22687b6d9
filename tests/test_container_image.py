"""The tool's image (Dockerfile): pinned, non-root, the extras the cluster needs, `reconciler`.

No container engine runs here, so the Dockerfile is checked as text against the project:
the base image is pinned to a Python 3.11 patch release, the extras it installs exist, it
runs as the user the chart's security context names, its entrypoint is the console script,
and the build context (.dockerignore) holds everything the build copies and the wheel needs.
"""

from __future__ import annotations

import re
import tomllib
from fnmatch import fnmatch

import yaml

from tests.runner import EXAMPLES, REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def instructions(name: str) -> list[str]:
    joined = DOCKERFILE.replace("\\\n", " ")
    return [line.split(None, 1)[1] for line in joined.splitlines() if line.startswith(name + " ")]


def test_the_base_image_is_a_pinned_slim_python_311() -> None:
    (base,) = [arg for arg in instructions("ARG") if arg.startswith("PYTHON_IMAGE=")]
    image = base.split("=", 1)[1]
    assert re.fullmatch(r"python:3\.11\.\d+-slim(-[a-z]+)?(@sha256:[0-9a-f]{64})?", image), image
    assert all(line.startswith("${PYTHON_IMAGE}") for line in instructions("FROM"))


def test_it_installs_the_project_with_the_kubernetes_and_s3_extras() -> None:
    match = re.search(r'pip install "\.\[([a-z0-9,]+)\]"', DOCKERFILE)
    assert match, "the project is installed from the build context"
    extras = set(match[1].split(","))
    assert extras == {"kubernetes", "s3"}
    assert extras <= set(PYPROJECT["project"]["optional-dependencies"])


def test_it_runs_reconciler_as_the_non_root_user_the_chart_expects() -> None:
    (user,) = instructions("USER")
    uid = int(user.split(":")[0])
    assert uid >= 1000
    (entrypoint,) = instructions("ENTRYPOINT")
    assert entrypoint == '["reconciler"]'
    assert "reconciler" in PYPROJECT["project"]["scripts"]
    job = (EXAMPLES / "chart/templates/job.yaml").read_text()
    assert f"runAsUser: {uid}" in job and f"fsGroup: {uid}" in job


def test_the_build_context_holds_what_the_build_copies() -> None:
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def sent(path: str) -> bool:
        keep = True
        for rule in rules:
            negated = rule.startswith("!")
            pattern = rule.removeprefix("!").rstrip("/")
            if fnmatch(path, pattern) or path.startswith(pattern + "/"):
                keep = negated
        return keep

    copied = [
        source
        for line in instructions("COPY")
        if not line.startswith("--from")
        for source in line.split()[:-1]
    ]
    assert set(copied) == {"pyproject.toml", "README.md", "schemas", "reconciler"}
    assert all(sent(path) for path in copied)
    assert PYPROJECT["project"]["readme"] in copied
    assert sent("reconciler/targets/crds.py") and sent("schemas/values.schema.json")
    assert not sent(".venv/bin/python") and not sent("state/reconciler.state.json")
    assert not sent("reconciler/__pycache__/cli.cpython-311.pyc")


def test_the_chart_runs_the_image_it_documents() -> None:
    values = yaml.safe_load((EXAMPLES / "chart/values.yaml").read_text())
    chart = yaml.safe_load((EXAMPLES / "chart/Chart.yaml").read_text())
    assert chart["appVersion"] == PYPROJECT["project"]["version"], "the image tag by default"
    assert values["image"]["tag"] == ""
