"""runtime-reconciler: plan/apply reconciliation of model-serving runtimes."""

__version__ = "0.1.0"
