"""Administrators list across every workspace; a workspace sees its own and `global`'s."""

from __future__ import annotations

from pathlib import Path

import reconciler
from reconciler.apply import engine
from reconciler.inputs.values import load_values
from tests.runner import EXAMPLES


def test_client_lists_runtimes_and_images_of_every_workspace(tmp_path: Path) -> None:
    client = reconciler.Client(state=tmp_path / "state.json", target=tmp_path / "cluster")
    values = load_values([EXAMPLES / "values.yaml"])
    assert engine.apply(client.backend, client.target, inputs=engine.Inputs(values=values)).ok
    for team in ("team-a", "team-b"):
        workspace = client.workspaces.create(team)
        image = workspace.runtimes.images.create(
            name=f"{team} scorer", docker_image=f"registry.example.com/{team}/scorer:1.0.0"
        )
        workspace.runtimes.create(name=f"{team} runtime", runtime_image=image, model_type=team)

    every_runtime = {entry.name for entry in client.runtimes.list()}
    assert {"team-a runtime", "team-b runtime", "H2O-3 MOJO Runtime"} <= every_runtime
    every_image = {entry["name"] for entry in client.runtimes.images.list()}
    assert {"team-a scorer", "team-b scorer", "H2O-3 MOJO Scorer"} <= every_image

    team_a = client.workspaces.get("team-a")
    own_and_global = {entry.name for entry in team_a.runtimes.list()}
    assert "team-a runtime" in own_and_global and "H2O-3 MOJO Runtime" in own_and_global
    assert "team-b runtime" not in own_and_global
    team_a_images = {entry.name for entry in team_a.runtime_images.list()}
    assert team_a_images == {"team-a scorer"} | {
        entry.name for entry in client.runtimes.images.list() if entry.workspace == "global"
    }
    every_workspace = {entry.workspace for entry in client.runtimes.images.list()}
    assert every_workspace == {"global", "team-a", "team-b"}
