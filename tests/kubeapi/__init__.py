"""A Kubernetes API emulator for the test suite: real HTTP, real semantics, no cluster.

`Emulator` (emulator.py) is the entry point; `python -m tests.kubeapi` runs one alone.
"""

from tests.kubeapi.emulator import ADMIN_TOKEN, Emulator
from tests.kubeapi.rbac import User

__all__ = ["ADMIN_TOKEN", "Emulator", "User"]
