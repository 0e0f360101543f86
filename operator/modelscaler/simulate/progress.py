"""A one-line progress bar on stderr, for runs long enough to wonder about."""

from __future__ import annotations

import sys
from typing import TextIO


class ProgressBar:
    """Draws `label [#####.....] 50%` in place; silent when the stream is not a terminal unless forced."""

    def __init__(
        self, total_steps: int, stream: TextIO | None = None, width: int = 30, force: bool = False
    ) -> None:
        self.total_steps = max(1, total_steps)
        self.stream = stream or sys.stderr
        self.width = width
        self.enabled = force or self.stream.isatty()
        self.step = 0
        self.label = ""
        self._last_drawn = -1

    def start(self, label: str) -> None:
        """Begins one step of the total (e.g. one policy's replay)."""
        self.label = label
        self.update(0.0)

    def update(self, fraction: float) -> None:
        """Redraws with the current step `fraction` (0..1) done."""
        if not self.enabled:
            return
        overall = (self.step + max(0.0, min(1.0, fraction))) / self.total_steps
        filled = int(overall * self.width)
        percent = int(overall * 100)
        if percent == self._last_drawn:
            return
        self._last_drawn = percent
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r{self.label:<20} [{bar}] {percent:3d}%")
        self.stream.flush()

    def finish_step(self) -> None:
        """Marks the current step done."""
        self.step += 1
        self.update(0.0)

    def close(self) -> None:
        """Ends the line."""
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
