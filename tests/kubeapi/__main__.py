"""`python -m tests.kubeapi --port 0 --kubeconfig PATH`: run the emulator alone.

Prints the URL, writes a kubeconfig for it, and serves until interrupted. Controllers run
on the wall clock (`--rollout-seconds` sets how long a pod takes to become ready).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from tests.kubeapi.emulator import Emulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.kubeapi", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--kubeconfig", help="write a kubeconfig for the emulator here")
    parser.add_argument("--context", default="emulator", help="context name in the kubeconfig")
    parser.add_argument(
        "--rollout-seconds",
        type=float,
        default=1.0,
        help="seconds a Deployment's new pod takes to become ready",
    )
    parser.add_argument(
        "--tls", action="store_true", help="serve HTTPS with a self-signed certificate"
    )
    args = parser.parse_args(argv)
    emulator = Emulator(realtime=True, pod_ready_seconds=args.rollout_seconds, tls=args.tls)
    emulator.start(args.port)
    if args.kubeconfig:
        emulator.write_kubeconfig(args.kubeconfig, context=args.context)
    print(emulator.url, flush=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
