"""The dir target: one YAML manifest per object under a directory, written atomically.

The layout mirrors addresses (`<root>/workspaces/global/runtimes/h2o3-mojo.yaml`), so the
tree is easy to review and works as a GitOps render target for Argo CD or Flux. Each
file is written to a temporary name and renamed into place: a reader never sees half a
manifest, and a crash leaves either the old or the new file (files.py). A kill between
the two leaves a temporary `.<name>.yaml.XXXXXXXX.tmp`, which the next run removes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reconciler import errors, files
from reconciler.inputs import yamlio

MANIFEST_SUFFIX = ".yaml"


class DirTarget:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.name = f"dir:{self.root}"

    def path_of(self, address: str) -> Path:
        return self.root / f"{address}{MANIFEST_SUFFIX}"

    def put(self, address: str, manifest: Mapping[str, Any]) -> None:
        path = self.path_of(address)
        text = yamlio.dump_yaml(dict(manifest))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            files.atomic_write(path, text.encode())
        except OSError as exc:
            raise errors.TargetError(
                f"cannot write {path}: {exc.strerror}", hint="check the target directory"
            ) from exc

    def get(self, address: str) -> dict[str, Any] | None:
        path = self.path_of(address)
        try:
            text = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise errors.TargetError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            found = yamlio.load_yaml(text, source=str(path))
        except errors.InputError as exc:
            raise errors.TargetError(
                f"{path} is not a manifest: {exc.summary}",
                hint="remove or restore the file; the next apply writes it again",
            ) from exc
        if not isinstance(found, dict):
            raise errors.TargetError(f"{path} is not a manifest: not a mapping")
        return found

    def remove_leftovers(self) -> int:
        removed = 0
        for directory, _subdirs, names in os.walk(self.root):
            for name in names:
                original = files.leftover_of(name)
                if original is not None and original.endswith(MANIFEST_SUFFIX):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(os.path.join(directory, name))
                        removed += 1
        return removed

    def delete(self, address: str) -> None:
        path = self.path_of(address)
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise errors.TargetError(f"cannot remove {path}: {exc.strerror}") from exc

    def roll(self, address: str, manifest: Mapping[str, Any], *, timeout: float | None) -> None:
        self.put(address, manifest)  # nothing runs here: stored is served
