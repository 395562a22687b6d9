"""The emulator's clock: simulated time the tests move, or real time for manual runs and benchmarks.

Owns "now" for everything time-based in the emulator (timestamps, ages, rollout steps,
progress deadlines). `advance(seconds)` moves simulated time in ticks and lets every
controller act at each tick, so a test's `advance(30)` behaves like thirty seconds of a
real cluster. In real-time mode a background thread follows the wall clock instead.
"""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Callable

TICK_SECONDS = 1.0  # controllers act once per simulated second, like a busy controller manager
REALTIME_POLL_SECONDS = 0.05


class Clock:
    def __init__(self, *, realtime: bool = False) -> None:
        self._lock = threading.RLock()
        self._now = float(int(time.time()))
        self.realtime = realtime
        self.tickers: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def now(self) -> float:
        return self._now

    def datetime(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self._now, tz=datetime.UTC)

    def rfc3339(self) -> str:
        return self.datetime().strftime("%Y-%m-%dT%H:%M:%SZ")

    def _tick(self) -> None:
        for ticker in list(self.tickers):
            ticker()

    def advance(self, seconds: float) -> None:
        """Move simulated time forward; controllers act at every tick on the way."""
        if self.realtime:
            raise RuntimeError("the clock follows real time; advance() is for simulated time")
        with self._lock:
            remaining = seconds
            while remaining > 0:
                step = min(TICK_SECONDS, remaining)
                self._now += step
                remaining -= step
                self._tick()

    def step(self) -> None:
        """One tick."""
        self.advance(TICK_SECONDS)

    def start(self) -> None:
        if not self.realtime or self._thread is not None:
            return
        self._now = time.time()

        def follow() -> None:
            while not self._stop.wait(REALTIME_POLL_SECONDS):
                with self._lock:
                    self._now = time.time()
                    self._tick()

        self._thread = threading.Thread(target=follow, name="kubeapi-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
