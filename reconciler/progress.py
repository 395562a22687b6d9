"""Rollout progress as an apply runs: rich's progress bars on a terminal, plain lines otherwise.

Owns how the rollouts of an apply are shown while they happen: on a terminal one bar
(compositions rolled of those to roll, with how many are in flight and failed, and the
time elapsed), redrawn in place; elsewhere (CI logs, a Helm hook's pod log) one line per
rollout as it starts and ends. rich is imported only when there is a terminal to draw on.

Not here: the report printed once apply has finished (render.py); what a rollout is
(apply/executor.py calls `RolloutDisplay` with each event).
"""

from __future__ import annotations

import threading
from typing import Any, TextIO

EVENTS = ("started", "rolled", "failed")


class RolloutDisplay:
    """A callable `(event, address)` for the executor; a context manager around the apply.

    `expect(n)` sets how many rollouts the apply will run, once its plan is known.
    """

    def __init__(self, stream: TextIO, *, terminal: bool) -> None:
        self.stream = stream
        self.terminal = terminal
        self.total = 0
        self.in_flight = self.rolled = self.failed = 0
        self._lock = threading.Lock()
        self._bar: Any = None
        self._task: Any = None

    def __enter__(self) -> RolloutDisplay:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    @property
    def drawing(self) -> bool:
        """True once the bar is on the terminal (other progress output must stay off it)."""
        return self._bar is not None

    def close(self) -> None:
        """Leave the bar as it ended; nothing to do for plain lines."""
        with self._lock:
            if self._bar is not None:
                self._bar.stop()
                self._bar = None

    def expect(self, total: int) -> None:
        self.total = total

    def __call__(self, event: str, address: str) -> None:
        with self._lock:
            if event == "started":
                self.in_flight += 1
            else:
                self.in_flight -= 1
                if event == "rolled":
                    self.rolled += 1
                else:
                    self.failed += 1
            if self.terminal:
                self._draw()
            elif event == "failed":
                self.stream.write(f"rollout failed: {address}\n")
            else:
                self.stream.write(f"rollout {event}: {address}\n")
            self.stream.flush()

    def _draw(self) -> None:
        if self._bar is None:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("rollouts"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[in_flight]} in flight, {task.fields[failed]} failed"),
                TimeElapsedColumn(),
                console=Console(file=self.stream, force_terminal=True),
            )
            self.stream.write("\r\033[K")  # clear the catalog's progress line first
            self._task = self._bar.add_task(
                "rollouts", total=self.total or None, in_flight=0, failed=0
            )
            self._bar.start()
        self._bar.update(
            self._task,
            completed=self.rolled + self.failed,
            total=max(self.total, self.rolled + self.failed) or None,
            in_flight=self.in_flight,
            failed=self.failed,
        )
