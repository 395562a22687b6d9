"""Setting up the API emulator as a cluster the kubernetes target can be opened against.

The CRDs and the namespaces the tool writes to are installed (as a platform team would),
and `KUBECONFIG` points at the emulator, so tests open the target exactly as the CLI does.
`FastClock` runs the emulator's simulated time quickly, so rollouts progress by themselves
and a progress deadline of minutes passes in about a second of wall time.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from reconciler.targets import crds
from tests.kubeapi import Emulator

NAMESPACES = ("runtime-platform", "workspace-prod")


def namespace(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def prepare(
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    install_crds: bool = True,
    namespaces: tuple[str, ...] = NAMESPACES,
    token: str | None = None,
) -> Path:
    """Install what the tool expects and make the emulator the current context."""
    if install_crds:
        emulator.apply_objects(crds.definitions())
    emulator.apply_objects([namespace(name) for name in namespaces])
    kubeconfig = emulator.write_kubeconfig(tmp_path / "kubeconfig", token=token)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    for setting in (
        "RECONCILER_PLATFORM_NAMESPACE",
        "RECONCILER_WORKSPACE_NAMESPACE",
        "RECONCILER_CREATE_NAMESPACES",
    ):
        monkeypatch.delenv(setting, raising=False)
    return kubeconfig


class FastClock:
    """Advance the emulator's simulated clock by `step` seconds every `every` seconds."""

    def __init__(self, emulator: Emulator, *, step: float = 5.0, every: float = 0.01) -> None:
        self.emulator, self.step, self.every = emulator, step, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fast-clock", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.emulator.clock.advance(self.step)

    def __enter__(self) -> FastClock:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
