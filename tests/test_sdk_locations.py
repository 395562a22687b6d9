"""Where an SDK client keeps its state and target: a bad location is one clear error.

The same rules as the CLI's: `RECONCILER_STATE` and `RECONCILER_TARGET` set but empty are
errors (what a CI variable that failed to expand looks like), not the defaults, and a
location that is neither a path, a URL nor a driver is refused before anything is read.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import reconciler
from reconciler import errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"state": 123}, "state=123 is not a state location"),
        ({"state": ""}, "the state location '' is not a path or s3://BUCKET/KEY"),
        ({"target": 123}, "the target 123 is not dir:PATH, memory:// or kubernetes[:CONTEXT]"),
        ({"target": "ftp:somewhere"}, "unknown target 'ftp:somewhere'"),
    ],
)
def test_a_bad_location_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kwargs: dict, message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(errors.UsageError) as raised:
        reconciler.Client(**kwargs)
    assert message in raised.value.summary
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("variable", ["RECONCILER_STATE", "RECONCILER_TARGET"])
def test_an_empty_environment_variable_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, "")
    with pytest.raises(errors.UsageError) as raised:
        reconciler.Client()
    assert raised.value.summary == f"{variable} is set but empty"
    assert list(tmp_path.iterdir()) == []


def test_unset_variables_mean_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RECONCILER_STATE", raising=False)
    monkeypatch.delenv("RECONCILER_TARGET", raising=False)
    client = reconciler.Client()
    assert client.backend.name == "state/reconciler.state.json"
    assert client.target.name == "dir:state/cluster"
