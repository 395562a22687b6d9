"""The Python SDK: the API-managed source, shaped like the platform's documented client.

    import reconciler

    client = reconciler.Client(state="state/reconciler.state.json", target="dir:state/cluster")
    workspace = client.workspaces.create("fraud-team")
    image = workspace.runtimes.images.create(
        name="My Custom Scorer", docker_image="docker.io/myorg/scorer:2.0.0"
    )
    runtime = workspace.runtimes.create(
        name="My H2O-3 Runtime", runtime_image=image, model_type="h2o3"
    )
    runtime.deprecate(reason="Migrating to new runtime")
    deployment = workspace.deployments.create(
        "fraud", compositions=[{"experiment_id": "exp-1", "model_type": "h2o3"}]
    )
    deployment.upgrade_runtime_image()

Every mutating call is one locked transaction through the engine, with the same state
backends and targets as the CLI: user intents are recorded in the state, so a later
Helm values apply keeps every change the ceiling rule says it must keep. Objects read
the current state on every property access (live reads); `obj.read()` is the object as one
snapshot, for properties that must agree. Errors are the `reconciler.errors` tree, and
where the documented client raises a builtin (ValueError, TypeError) ours is also that
builtin; none shows a secret-looking value (`Client(sensitive_names=...)` adds names).

Modules: client.py (Client, workspaces), images.py (images and their versions), runtimes.py,
deployments.py, objects.py (what catalog objects share, and the SDK's checks), handles.py
(what every object and collection shares), tables.py (what `list()` returns), session.py
(state, target, transactions).
"""

from reconciler.sdk.client import Client, Workspace
from reconciler.sdk.deployments import Composition, Deployment
from reconciler.sdk.images import RuntimeImage, RuntimeImageVersion
from reconciler.sdk.runtimes import Runtime
from reconciler.sdk.tables import Table

__all__ = [
    "Client",
    "Composition",
    "Deployment",
    "Runtime",
    "RuntimeImage",
    "RuntimeImageVersion",
    "Table",
    "Workspace",
]
