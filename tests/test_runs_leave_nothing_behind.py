"""What a run leaves on disk: nothing of a run that changed nothing, nothing of a killed one.

A failed first apply leaves the directory as it found it (no `state/`, no lock, no
sidecar). A writer killed between writing a temporary file and renaming it leaves
`.NAME.XXXXXXXX.tmp` behind; the next run under the lock removes exactly those (beside the
state and in the dir target), and no file that merely looks similar.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.runner import EXAMPLES, reconciler, snapshot

GOOD = ["-f", "values.yaml", "--overrides", "overrides.yaml"]
STATE = "state/reconciler.state.json"
RUNTIME = "state/cluster/workspaces/global/runtimes/h2o3-mojo.yaml"


def _examples(root: Path) -> None:
    shutil.copy(EXAMPLES / "values.yaml", root / "values.yaml")
    shutil.copy(EXAMPLES / "overrides.yaml", root / "overrides.yaml")


def test_a_failed_first_apply_into_a_file_leaves_nothing_behind(tmp_path: Path) -> None:
    _examples(tmp_path)
    (tmp_path / "cluster").write_text("not a directory\n")
    before = snapshot(tmp_path)
    run = reconciler("apply", *GOOD, "--auto-approve", "--target", "dir:cluster", cwd=tmp_path)
    assert run.code == 1, run.out + run.err
    assert "Apply failed! 0 applied" in run.out
    assert "cluster" in run.out
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "cluster",
        "overrides.yaml",
        "values.yaml",
    ]


def test_an_existing_state_directory_is_kept_by_a_failed_first_apply(tmp_path: Path) -> None:
    _examples(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "cluster").write_text("not a directory\n")
    run = reconciler("apply", *GOOD, "--auto-approve", "--target", "dir:cluster", cwd=tmp_path)
    assert run.code == 1
    assert (tmp_path / "state").is_dir(), "a directory the user made is theirs"
    assert list((tmp_path / "state").iterdir()) == []


def test_the_next_run_removes_what_a_killed_writer_left(tmp_path: Path) -> None:
    _examples(tmp_path)
    assert reconciler("apply", *GOOD, "--auto-approve", cwd=tmp_path).code == 0
    # What a writer killed between its temporary file and the rename leaves (mkstemp's names).
    leftovers = [
        "state/.reconciler.state.json.k3q9_x2a.tmp",
        "state/.reconciler.state.json.backup.0a1b2c3d.tmp",
        "state/cluster/workspaces/global/runtimes/.h2o3-mojo.yaml.zz9plm4q.tmp",
        "state/cluster/workspaces/global/runtimeImages/.h2oai-h2o3mojo-scorer.yaml.abcdefgh.tmp",
    ]
    # Files that are not ours, or not temporaries of ours, stay whatever their names.
    decoys = [
        "state/.reconciler.state.json.keep-me.tmp",
        "state/.other.json.abcdefgh.tmp",
        "state/notes.tmp",
        "state/cluster/workspaces/global/runtimes/.readme.txt.abcdefgh.tmp",
        "state/cluster/workspaces/global/runtimes/.h2o3-mojo.yaml.swp",
    ]
    for name in leftovers + decoys:
        (tmp_path / name).write_bytes(b"partial" * 1000)
    stored = (tmp_path / STATE).read_bytes()
    manifest = (tmp_path / RUNTIME).read_bytes()

    run = reconciler("apply", *GOOD, "--auto-approve", cwd=tmp_path)
    assert run.code == 0, run.err
    assert "No changes" in run.out
    assert [n for n in leftovers if (tmp_path / n).exists()] == []
    assert [n for n in decoys if not (tmp_path / n).exists()] == []
    assert (tmp_path / STATE).read_bytes() == stored
    assert (tmp_path / RUNTIME).read_bytes() == manifest


def test_a_plan_removes_nothing(tmp_path: Path) -> None:
    _examples(tmp_path)
    assert reconciler("apply", *GOOD, "--auto-approve", cwd=tmp_path).code == 0
    leftover = tmp_path / "state/.reconciler.state.json.k3q9_x2a.tmp"
    leftover.write_bytes(b"partial")
    before = snapshot(tmp_path)
    # A plan takes no lock: a writer may still be busy with its temporary file.
    assert reconciler("plan", *GOOD, cwd=tmp_path).code == 0
    assert snapshot(tmp_path) == before
