"""Values files as a git revision holds them: the base side of `reconciler review --git REV`.

Owns reading a file at a revision with `git show REV:./FILE`, run in the file's own
directory so that relative, absolute and nested paths all name the file in the repository
that holds it, and turning git's refusals into one clear error each: no git, not inside a
git repository, an unknown revision, a directory where a file was expected. A file the
revision does not have is reported as absent (a layer the change adds), not as an error.

Does not merge values: values.py does, once each file's text is parsed; nothing here
writes to the repository.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from reconciler import errors
from reconciler.inputs import yamlio
from reconciler.inputs.values import Values, build_values

GIT_TIMEOUT_SECONDS = 60.0  # reading one blob is instant; a hung git must not hang a CI job
REVISION_HINT = "name a commit, branch or tag (`git log --oneline` shows them)"


@dataclass(frozen=True, slots=True, kw_only=True)
class AtRevision:
    """Values merged from the files as `revision` has them; `absent` lists the files it
    does not have (they add nothing to this side)."""

    values: Values
    revision: str
    absent: tuple[str, ...] = ()


def load_values_at(files: Sequence[str], revision: str) -> AtRevision:
    """The `-f` files at `revision`, merged as Helm merges them; errors name `REV:FILE`."""
    if revision.startswith("-") or not revision.strip():
        raise errors.UsageError(f"--git {revision!r} is not a revision", hint=REVISION_HINT)
    documents = []
    absent = []
    for name in files:
        if name == "-":
            raise errors.UsageError(
                "--git REV reads the -f files at REV: standard input has no revision",
                hint="name the values file with -f FILE",
            )
        text = read_at(name, revision)
        if text is None:
            absent.append(name)
            continue
        label = f"{revision}:{name}"
        documents.append((label, yamlio.load_yaml(text, source=label)))
    return AtRevision(values=build_values(documents), revision=revision, absent=tuple(absent))


def read_at(path: str, revision: str) -> bytes | None:
    """The content of `path` at `revision` of the repository holding it; None when the
    revision has no such file."""
    directory = os.path.dirname(os.path.abspath(path))
    relative = "./" + os.path.basename(path)
    if _git(directory, "rev-parse", "--git-dir").returncode != 0:
        raise errors.UsageError(
            f"--git {revision}: {path} is not inside a git repository",
            detail=f"git found no repository at {directory} or above it",
            hint="run the review inside a git checkout, or name both sides with "
            "--base FILE... --head FILE...",
        )
    if _git(directory, "rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}").returncode:
        raise errors.UsageError(
            f"--git {revision}: unknown revision {revision!r}",
            detail=f"in the repository holding {path}",
            hint=REVISION_HINT,
        )
    kind = _git(directory, "cat-file", "-t", f"{revision}:{relative}")
    if kind.returncode != 0:
        return None
    if kind.stdout.strip() != b"blob":
        raise errors.UsageError(
            f"--git {revision}: {path} is not a file at {revision}",
            detail=f"git holds a {kind.stdout.decode(errors='replace').strip()} there",
            hint="give -f the path of a values file",
        )
    shown = _git(directory, "show", f"{revision}:{relative}")
    if shown.returncode != 0:
        raise errors.UsageError(
            f"--git {revision}: cannot read {path} at {revision}",
            detail=shown.stderr.decode(errors="replace").strip(),
        )
    return shown.stdout


def _git(directory: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run(
            ["git", "-C", directory, *args],
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=False,
        )
    except FileNotFoundError:
        raise errors.UsageError(
            "--git needs the git command, which is not installed",
            hint="install git, or name both sides with --base FILE... --head FILE...",
        ) from None
    except subprocess.TimeoutExpired:
        raise errors.UsageError(
            f"git {' '.join(args)} did not answer within {GIT_TIMEOUT_SECONDS:.0f} s",
            detail=f"in {directory}",
        ) from None
