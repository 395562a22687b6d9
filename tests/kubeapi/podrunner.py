"""Running a Job's pod as a local process: the ready-made `Emulator.job_runner`.

Owns turning a pod template into a subprocess: the first container's `command` + `args`
(program names mapped to local executables through `programs`; a container without a
`command` runs its image's ENTRYPOINT, which the emulator cannot read from an image and so
takes from `entrypoints`, image repository → argv), its `env` (literal values, ConfigMap
and Secret keys, the pod's namespace and name) and `envFrom` (every key of a ConfigMap or
Secret), ConfigMap and Secret volumes written as files, and in-cluster configuration
pointing at the emulator.

Paths: a mount's `mountPath` (say `/etc/reconciler`) becomes a local directory; every
argument, environment value and `workingDir` that starts with a mount path is rewritten to
it, and `EMULATOR_MOUNTS` (JSON, mountPath → local directory) tells the process the map.

In-cluster configuration: `KUBERNETES_SERVICE_HOST`/`PORT` and the service-account token
file would send the client to HTTPS, which the emulator does not speak; instead the process
gets `KUBECONFIG`, a kubeconfig for the emulator with the token of the Job's service account
(`Emulator.service_account_token`) or the admin's, and no `KUBERNETES_SERVICE_*` variables,
so clients that try in-cluster first fall back to it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.kubeapi.emulator import Emulator

KILLED_EXIT_CODE = 137  # what a container killed at its deadline reports (128 + SIGKILL)
HIDDEN_ENV_PREFIXES = ("KUBERNETES_SERVICE_", "KUBECONFIG")


class SubprocessRunner:
    def __init__(
        self,
        emulator: Emulator,
        *,
        workdir: str | os.PathLike[str] | None = None,
        programs: dict[str, str] | None = None,
        extra_env: dict[str, str] | None = None,
        entrypoints: dict[str, list[str]] | None = None,
    ) -> None:
        self.emulator = emulator
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="kubeapi-pods-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.programs = dict(programs or {})
        self.extra_env = dict(extra_env or {})
        self.entrypoints = {image: list(argv) for image, argv in (entrypoints or {}).items()}

    def __call__(self, job: dict[str, Any]) -> tuple[int, str]:
        meta = job["metadata"]
        namespace = meta["namespace"]
        pod_spec = job["spec"]["template"].get("spec", {})
        container = pod_spec["containers"][0]
        root = Path(tempfile.mkdtemp(prefix=f"{meta['name']}-", dir=self.workdir))
        mounts = self._volumes(namespace, pod_spec, container, root)

        def local(value: str) -> str:
            for mount_path in sorted(mounts, key=len, reverse=True):
                if value == mount_path or value.startswith(mount_path.rstrip("/") + "/"):
                    return mounts[mount_path] + value[len(mount_path.rstrip("/")) :]
            return value

        command = container.get("command") or self._entrypoint(container.get("image", ""))
        argv = [local(a) for a in [*command, *container.get("args", [])]]
        if not argv:
            return (
                127,
                "the container has no command: the emulator cannot run an image's entrypoint\n",
            )
        argv[0] = self.programs.get(argv[0], argv[0])
        env = {k: v for k, v in os.environ.items() if not k.startswith(HIDDEN_ENV_PREFIXES)}
        # As the kubelet does: envFrom first, then env, whose entries win on a clash.
        for source in container.get("envFrom", []):
            env.update(self._env_from(namespace, source))
        for item in container.get("env", []):
            value = self._env_value(namespace, meta["name"], item)
            if value is not None:
                env[item["name"]] = local(value)
        kubeconfig = root / "kubeconfig"
        token = self.emulator.service_account_token(
            namespace, pod_spec.get("serviceAccountName", "default")
        )
        self.emulator.write_kubeconfig(kubeconfig, token=token, namespace=namespace)
        env.update(
            KUBECONFIG=str(kubeconfig), EMULATOR_MOUNTS=json.dumps(mounts), POD_NAMESPACE=namespace
        )
        env.update(self.extra_env)
        cwd = local(container["workingDir"]) if container.get("workingDir") else str(root)
        deadline = job["spec"].get("activeDeadlineSeconds")
        try:
            done = subprocess.run(
                argv,
                env=env,
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=float(deadline) if deadline else None,
            )
        except subprocess.TimeoutExpired as exc:
            output = exc.output.decode() if isinstance(exc.output, bytes) else (exc.output or "")
            return KILLED_EXIT_CODE, output
        except OSError as exc:
            return 127, f"{exc}\n"
        return done.returncode, done.stdout

    def _entrypoint(self, image: str) -> list[str]:
        # The repository without its tag or digest: "ghcr.io/x/y:1.0" → "ghcr.io/x/y".
        repository = image.split("@", 1)[0]
        if ":" in repository.rsplit("/", 1)[-1]:
            repository = repository.rsplit(":", 1)[0]
        return self.entrypoints.get(image) or self.entrypoints.get(repository) or []

    def _env_from(self, namespace: str, source: dict[str, Any]) -> dict[str, str]:
        prefix = source.get("prefix", "")
        if "configMapRef" in source:
            found = self._lookup(namespace, "configmaps", source["configMapRef"]["name"]) or {}
            data = dict(found.get("data") or {})
        elif "secretRef" in source:
            found = self._lookup(namespace, "secrets", source["secretRef"]["name"]) or {}
            data = {k: base64.b64decode(v).decode() for k, v in (found.get("data") or {}).items()}
        else:
            data = {}
        return {prefix + key: value for key, value in data.items()}

    def _lookup(self, namespace: str, plural: str, name: str) -> dict[str, Any] | None:
        return self.emulator.store.find(("", plural), namespace, name)

    def _env_value(self, namespace: str, pod_name: str, item: dict[str, Any]) -> str | None:
        if "value" in item:
            return str(item["value"])
        source = item.get("valueFrom") or {}
        if "configMapKeyRef" in source:
            ref = source["configMapKeyRef"]
            found = self._lookup(namespace, "configmaps", ref["name"]) or {}
            return (found.get("data") or {}).get(ref["key"])
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            found = self._lookup(namespace, "secrets", ref["name"]) or {}
            raw = (found.get("data") or {}).get(ref["key"])
            return base64.b64decode(raw).decode() if raw is not None else None
        field = (source.get("fieldRef") or {}).get("fieldPath")
        return {"metadata.namespace": namespace, "metadata.name": pod_name}.get(field or "")

    def _volumes(
        self, namespace: str, pod_spec: dict[str, Any], container: dict[str, Any], root: Path
    ) -> dict[str, str]:
        files: dict[str, dict[str, bytes]] = {}
        for volume in pod_spec.get("volumes", []):
            if "configMap" in volume:
                found = self._lookup(namespace, "configmaps", volume["configMap"]["name"]) or {}
                data = {k: v.encode() for k, v in (found.get("data") or {}).items()}
                items = volume["configMap"].get("items")
            elif "secret" in volume:
                found = self._lookup(namespace, "secrets", volume["secret"]["secretName"]) or {}
                data = {k: base64.b64decode(v) for k, v in (found.get("data") or {}).items()}
                items = volume["secret"].get("items")
            else:
                data, items = {}, None  # emptyDir and the like: an empty directory
            if items:
                data = {item["path"]: data[item["key"]] for item in items if item["key"] in data}
            files[volume["name"]] = data
        mounts: dict[str, str] = {}
        for mount in container.get("volumeMounts", []):
            directory = root / "volumes" / mount["name"]
            for relative, content in files.get(mount["name"], {}).items():
                target = directory / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(content)
            directory.mkdir(parents=True, exist_ok=True)
            local = directory / mount["subPath"] if mount.get("subPath") else directory
            mounts[mount["mountPath"]] = str(local)
        return mounts
