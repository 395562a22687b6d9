"""pytest fixtures for the emulator: `kubeapi` (a started Emulator), `kubeapi_http` (a raw
JSON client for it) and `kubectl` (the real binary pointed at it).

Imported by tests/conftest.py. Each test gets its own emulator: starting one takes
milliseconds, and tests then never see each other's objects or faults.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import ssl
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.kubeapi.emulator import Emulator

KUBECTL = Path(__file__).resolve().parents[2] / ".venv" / "bin" / "kubectl"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Response:
    status: int
    body: Any
    headers: dict[str, str]


class HttpClient:
    """Plain HTTP requests to the emulator, for tests that check the wire itself."""

    def __init__(
        self, url: str, token: str | None = None, ca_certificate: bytes | None = None
    ) -> None:
        parts = urllib.parse.urlsplit(url)
        self.netloc = parts.netloc
        self.token = token
        self.tls = None
        if parts.scheme == "https":
            self.tls = ssl.create_default_context(cadata=(ca_certificate or b"").decode() or None)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Response:
        conn: http.client.HTTPConnection = (
            http.client.HTTPSConnection(self.netloc, timeout=30, context=self.tls)
            if self.tls
            else http.client.HTTPConnection(self.netloc, timeout=30)
        )
        sent = {"Accept": "application/json", **(headers or {})}
        data = None
        if body is not None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            sent["Content-Type"] = content_type
        if token or self.token:
            sent["Authorization"] = f"Bearer {token or self.token}"
        conn.request(method, path, body=data, headers=sent)
        reply = conn.getresponse()
        raw = reply.read()
        conn.close()
        content = reply.headers.get("Content-Type", "")
        parsed: Any = raw.decode()
        if raw and content.startswith("application/json") and "watch=" not in path:
            parsed = json.loads(raw)
        return Response(status=reply.status, body=parsed, headers=dict(reply.headers))

    def get(self, path: str, **kw: Any) -> Response:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any, **kw: Any) -> Response:
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any, **kw: Any) -> Response:
        return self.request("PUT", path, body, **kw)

    def patch(self, path: str, body: Any, content_type: str, **kw: Any) -> Response:
        return self.request("PATCH", path, body, content_type=content_type, **kw)

    def delete(self, path: str, **kw: Any) -> Response:
        return self.request("DELETE", path, **kw)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Kubectl:
    """The real kubectl, with its own kubeconfig and discovery cache per test."""

    kubeconfig: Path
    cache_dir: Path

    def __call__(
        self,
        *args: str,
        stdin: str | None = None,
        check: bool = True,
        kubeconfig: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        command = [
            str(KUBECTL),
            "--kubeconfig",
            str(kubeconfig or self.kubeconfig),
            "--cache-dir",
            str(self.cache_dir),
            *args,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBE")}
        result = subprocess.run(
            command, input=stdin, capture_output=True, text=True, timeout=120, env=env
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}"
            )
        return result


@pytest.fixture
def kubeapi() -> Iterator[Emulator]:
    emulator = Emulator().start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def kubeapi_http(kubeapi: Emulator) -> HttpClient:
    return HttpClient(kubeapi.url)


@pytest.fixture
def kubectl(kubeapi: Emulator, tmp_path: Path) -> Kubectl:
    kubeconfig = kubeapi.write_kubeconfig(tmp_path / "kubeconfig")
    return Kubectl(kubeconfig=kubeconfig, cache_dir=tmp_path / "kube-cache")
