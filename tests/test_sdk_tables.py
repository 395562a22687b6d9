"""What `list()` returns (seed 001, "List runtimes"): a table printed like the client's.

The documented client prints with tabulate's `presto` format: the index column is at least
two wide, headers are padded by two, numbers align right. Its repr shows the first 50 rows,
`show(n=...)` prints more, `len()` is the total rather than what is displayed, iterating
yields the entries, and each entry reads both as an object (`entry.uid`) and as a mapping
(`entry["uid"]`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import reconciler
from reconciler.apply import engine
from reconciler.inputs.values import load_values
from reconciler.sdk import Table

RUNTIMES = 60  # more than the 50 rows a table shows by default


def values(count: int) -> dict[str, Any]:
    return {
        "config": {
            "deployer": {
                "composition": {
                    "runtimeImages": {
                        "scorer": {
                            "versions": [{"image": {"repository": "scorer", "tag": "1.0.0"}}]
                        }
                    },
                    "runtimes": {
                        f"runtime-{i:02d}": {
                            "displayName": f"Runtime {i:02d}",
                            "modelType": "h2o3" if i % 2 else "dai_mojo",
                            "runtimeImage": "scorer",
                        }
                        for i in range(count)
                    },
                }
            }
        }
    }


@pytest.fixture
def client(tmp_path: Path) -> reconciler.Client:
    client = reconciler.Client(
        state=tmp_path / "state/reconciler.state.json", target=f"dir:{tmp_path}/state/cluster"
    )
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values(RUNTIMES)))
    inputs = engine.Inputs(values=load_values([path]))
    assert engine.apply(client.backend, client.target, inputs=inputs).ok
    return client


@pytest.fixture
def workspace(client: reconciler.Client) -> Any:
    return client.workspaces.create("fraud-team")


def expected_rows(runtimes: list[Any]) -> list[str]:
    # presto: the index right-aligned in a column at least two wide, the name padded to the
    # widest name (at least its header plus two).
    width = max(len("name") + 2, *(len(r.name) for r in runtimes))
    index = max(2, len(str(len(runtimes) - 1)))
    return [
        f" {str(i).rjust(index)} | {r.name.ljust(width)} | {r.uid}" for i, r in enumerate(runtimes)
    ]


def test_repr_shows_the_first_50_rows_in_the_documented_layout(workspace: Any) -> None:
    runtimes = workspace.runtimes.list()
    lines = repr(runtimes).splitlines()
    assert lines[0] == "    | name       | uid"
    assert lines[1] == "----+------------+--------------------------------------"
    assert lines[2:] == expected_rows(list(runtimes)[:50]), "50 rows and nothing more"
    assert lines[2] == f"  0 | Runtime 00 | {runtimes[0].uid}"
    assert len(runtimes) == 60


def test_a_short_table_prints_every_row_in_the_documented_layout(workspace: Any) -> None:
    workspace.runtimes.create(name="My H2O-3 Runtime", runtime_image="scorer", model_type="custom")
    runtimes = workspace.runtimes.list(model_type="custom")
    assert repr(runtimes) == "\n".join(
        [
            "    | name             | uid",
            "----+------------------+--------------------------------------",
            f"  0 | My H2O-3 Runtime | {runtimes[0].uid}",
        ]
    )
    assert (
        str(workspace.runtimes.list(model_type="none"))
        == "    | name   | uid\n----+--------+-------"
    )


def test_show_prints_up_to_n_rows(workspace: Any, capsys: pytest.CaptureFixture[str]) -> None:
    runtimes = workspace.runtimes.list()
    runtimes.show(n=100)
    shown = capsys.readouterr().out.splitlines()
    assert shown[2:] == expected_rows(list(runtimes)), "all 60 rows"

    runtimes.show(n=5)
    shown = capsys.readouterr().out.splitlines()
    assert shown[2:] == expected_rows(list(runtimes)[:5])


def test_numbers_align_right_and_missing_values_are_blank() -> None:
    table = Table(
        columns=("name", "replicas", "note"),
        rows=[("a", 5, None), ("bb", 123, "x")],
        entries=["a", "bb"],
    )
    assert repr(table).splitlines() == [
        "    | name   |   replicas | note",
        "----+--------+------------+--------",
        "  0 | a      |          5 |",
        "  1 | bb     |        123 | x",
    ]


def test_len_is_the_total_not_what_is_displayed(workspace: Any) -> None:
    runtimes = workspace.runtimes.list()
    assert len(runtimes) == RUNTIMES
    assert workspace.runtimes.count() == RUNTIMES
    assert len(workspace.runtimes.list(model_type="h2o3")) == RUNTIMES // 2


def test_iteration_yields_entries_that_are_objects_and_mappings(workspace: Any) -> None:
    runtimes = workspace.runtimes.list(model_type="h2o3")
    entries = list(runtimes)
    assert len(entries) == RUNTIMES // 2
    for entry in entries:
        assert entry["uid"] == entry.uid
        assert entry["name"] == entry.name
        assert entry["model_type"] == "h2o3"
        assert dict(entry)["uid"] == entry.uid
    assert [e.name for e in entries] == [f"Runtime {i:02d}" for i in range(1, RUNTIMES, 2)]
    with pytest.raises(KeyError):
        entries[0]["no_such_field"]


def test_indexing_gives_the_same_entries(workspace: Any) -> None:
    runtimes = workspace.runtimes.list()
    assert runtimes[0].name == "Runtime 00"
    assert runtimes[-1].name == "Runtime 59"
    assert runtimes[1:3] == [runtimes[1], runtimes[2]]
    assert runtimes[0] == workspace.runtimes.get(runtimes[0].uid)


def test_entries_are_live_while_the_printed_rows_are_a_snapshot(workspace: Any) -> None:
    runtimes = workspace.runtimes.list()
    workspace.runtimes.get("runtime-00").deprecate(reason="Migrating to new runtime")
    assert runtimes[0].state == "DEPRECATED", "an entry reads the current state"
    assert runtimes[0]["state_reason"] == "Migrating to new runtime"

    image = workspace.runtimes.images.create(name="Before", docker_image="r/s:2.0.0")
    images = workspace.runtimes.images.list()
    printed = repr(images)
    image.update(name="After")
    assert repr(images) == printed and "Before" in printed, "the rows are the listing's"
    assert images[0].name == "After", "the entry is live"


def test_images_and_versions_list_the_same_way(workspace: Any) -> None:
    image = workspace.runtimes.images.create(name="My Custom Scorer", docker_image="r/s:2.0.0")
    image.versions.create("r/s:2.1.0")
    images = workspace.runtimes.images.list()
    assert [i.name for i in images] == ["My Custom Scorer", "scorer"]
    assert repr(images).splitlines()[0] == "    | name             | uid"
    versions = image.versions.list()
    assert repr(versions).splitlines() == [
        "    | version   | docker_image   | state   | uid",
        "----+-----------+----------------+---------+--------------------------------------",
        f"  0 | v2.0.0    | r/s:2.0.0      | ACTIVE  | {versions[0].uid}",
        f"  1 | v2.1.0    | r/s:2.1.0      | ACTIVE  | {versions[1].uid}",
    ]
    assert [v["version"] for v in versions] == ["v2.0.0", "v2.1.0"]
    assert len(workspace.runtimes.images.list(managed_by_bootstrap=True)) == 1
