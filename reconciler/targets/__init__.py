"""Targets: where the catalog materializes (a directory of manifests, or a cluster).

`base.py` holds the contract (`Target`); `directory.py`, `memory.py` and `kubernetes.py`
(with its client in `kubeclient.py`) implement it, and `open_target` picks one from a
`--target` value. `manifests.py` owns what the catalog's objects look like; the
Deployments of compositions are planning/workloads.py's.
"""

from __future__ import annotations

from reconciler import settings
from reconciler.targets.base import DEFAULT_DIR, DEFAULT_TARGET, Observable, Target

__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_TARGET",
    "TARGET_VARIABLE",
    "Observable",
    "Target",
    "open_target",
    "target_from_environment",
]

TARGET_VARIABLE = "RECONCILER_TARGET"


def target_from_environment() -> str:
    """`RECONCILER_TARGET`, or the default when it is unset (set but empty is an error)."""
    return settings.location(
        TARGET_VARIABLE, DEFAULT_TARGET, expected="dir:PATH or kubernetes[:CONTEXT]"
    )


def open_target(spec: str, *, force_conflicts: bool = False) -> Target:
    """The target a `--target` value names: `dir:PATH`, `memory://`, or `kubernetes`
    (`kubernetes:CONTEXT` for a kubeconfig context other than the current one).

    `force_conflicts`: on a cluster, take over fields another field manager owns instead
    of refusing to write them (targets without field ownership ignore it).
    """
    from reconciler import errors

    if not isinstance(spec, str):
        raise errors.UsageError(
            f"the target {spec!r} is not dir:PATH, memory:// or kubernetes[:CONTEXT]",
            hint=f"give dir:PATH (default {DEFAULT_TARGET}), kubernetes[:CONTEXT] or a Target",
        )
    if spec.startswith("memory://"):
        from reconciler.targets import memory

        return memory.MemoryTarget(name=spec)
    kind, sep, where = spec.partition(":")
    if kind == "kubernetes" and (not sep or where):
        from reconciler.targets import kubernetes

        return kubernetes.KubernetesTarget(context=where or None, force_conflicts=force_conflicts)
    if sep and kind == "dir" and where:
        from reconciler.targets import directory

        return directory.DirTarget(where)
    raise errors.UsageError(
        f"unknown target '{spec}'",
        hint=f"use dir:PATH (default dir:{DEFAULT_DIR}), memory://, or kubernetes[:CONTEXT]",
    )
