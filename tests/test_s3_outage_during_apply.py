"""The S3 server going away in the middle of an apply, as the user sees it.

Between the tool and the real S3 server (tests/s3server.py) sits a TCP relay on 127.0.0.1
that dies, as a crashed or partitioned server does, at the moment a chosen write of the
state object is sent: it stops listening and drops every connection, so that write and
everything after it (the lock's release) fail. The user must see the first failure, how
many changes the state records, and that the lock was left behind with how to release it;
not the lock-release error that follows.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import socket
import threading
from pathlib import Path

import pytest

from tests.runner import EXAMPLES, reconciler


class DyingRelay:
    """Relays TCP to `upstream` until the `after`-th request matching `trigger` starts."""

    def __init__(self, upstream: str, *, trigger: re.Pattern[bytes], after: int = 1) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.trigger = trigger
        self.remaining = after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.dead = threading.Event()
        self._sockets: list[socket.socket] = []
        self._mutex = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.dead.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            with self._mutex:
                self._sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, outbound: bool) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if outbound and self._triggered(data):
                    self.die()
                    return
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def _triggered(self, data: bytes) -> bool:
        with self._mutex:
            self.remaining -= len(self.trigger.findall(data))
            return self.remaining <= 0

    def die(self) -> None:
        self.dead.set()
        self.listener.close()
        with self._mutex:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()


def state_write(url: str) -> re.Pattern[bytes]:
    bucket, key = url.removeprefix("s3://").split("/", 1)
    return re.compile(rb"PUT /" + re.escape(f"{bucket}/{key}".encode()) + rb"[ ?]")


def stored(s3_server, url: str, key_suffix: str = "") -> bytes | None:
    bucket, key = url.removeprefix("s3://").split("/", 1)
    client = s3_server.client()
    try:
        return client.get_object(Bucket=bucket, Key=key + key_suffix)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copy(EXAMPLES / "values.yaml", tmp_path / "values.yaml")
    return tmp_path


def test_the_first_failure_is_reported_with_what_was_kept_and_the_lock_left(
    root: Path, s3_url: str, s3_env: dict[str, str], s3_server
) -> None:
    relay = DyingRelay(s3_server.endpoint_url, trigger=state_write(s3_url))
    env = {**s3_env, "AWS_ENDPOINT_URL_S3": relay.url, "RECONCILER_S3_PATH_STYLE": "1"}
    args = ["-f", "values.yaml", "--state", s3_url]
    run = reconciler("apply", *args, "--auto-approve", cwd=root, env=env)
    assert relay.dead.is_set(), "the relay never saw the state write"
    assert run.code == 1, run.out + run.err
    first = run.err.splitlines()[0]
    assert first == "Error: apply stopped: cannot reach the S3 endpoint", run.err
    assert f"writing {s3_url}" in run.err
    assert (
        "22 change(s) were carried out on dir:state/cluster; the state records none of them: "
        f"{s3_url} is as before this apply." in run.err
    )
    lock = re.search(r"The state lock \(ID ([0-9a-f-]+)\) could not be released either", run.err)
    assert lock, run.err
    assert "it is still held" in run.err
    assert f"reconciler state force-unlock {lock[1]}" in run.err
    assert "Traceback" not in run.err
    assert stored(s3_server, s3_url) is None
    assert lock[1] in (stored(s3_server, s3_url, ".lock") or b"").decode()

    # The server is back: the lock left behind is named, released, and the apply converges.
    held = reconciler("apply", *args, "--auto-approve", cwd=root, env=s3_env)
    assert held.code == 1 and lock[1] in held.err, held.err
    freed = reconciler("state", "force-unlock", lock[1], "--state", s3_url, cwd=root, env=s3_env)
    assert freed.code == 0, freed.err
    again = reconciler("apply", *args, "--auto-approve", cwd=root, env=s3_env)
    assert again.code == 0, again.err
    assert "Apply complete! 22 applied" in again.out


def test_changes_recorded_before_the_outage_are_counted(
    root: Path, s3_url: str, s3_env: dict[str, str], s3_server
) -> None:
    from reconciler import errors
    from reconciler.apply import engine
    from reconciler.backends.s3 import S3Backend
    from reconciler.inputs.values import load_values
    from reconciler.targets.directory import DirTarget

    relay = DyingRelay(s3_server.endpoint_url, trigger=state_write(s3_url), after=2)
    backend = S3Backend.from_url(s3_url, endpoint_url=relay.url, path_style=True)
    target = DirTarget(root / "cluster")
    with pytest.raises(errors.ApplyStoppedError) as stopped:
        engine.apply(
            backend,
            target,
            inputs=engine.Inputs(values=load_values([str(root / "values.yaml")], [], [])),
            batching=engine.Batching(size=5, persist_every=5),
            parallelism=1,
        )
    error = stopped.value
    assert error.summary == "apply stopped: cannot reach the S3 endpoint"
    assert (
        f"10 change(s) were carried out on {target.name}; the state records 5 of them "
        f"(serial 1 on {s3_url})." in error.detail
    )
    assert "could not be released either" in error.detail
    recorded = stored(s3_server, s3_url)
    assert recorded is not None and b'"serial": 1' in recorded
