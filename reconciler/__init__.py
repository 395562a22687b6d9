"""runtime-reconciler: plan/apply reconciliation of model-serving runtimes."""

from __future__ import annotations

import importlib

__version__ = "0.1.0"
__all__ = ["Client", "__version__"]


def __getattr__(name: str) -> object:
    # `reconciler.Client` is the SDK's: import it only when asked for, so `import reconciler`
    # (and `reconciler --help`) stays light. Imported by name, because every layer imports
    # this package for __version__ and must not appear to depend on the SDK above it.
    if name == "Client":
        return importlib.import_module("reconciler.sdk").Client
    raise AttributeError(f"module 'reconciler' has no attribute {name!r}")
