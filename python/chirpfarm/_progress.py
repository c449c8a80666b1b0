"""A dependency-free progress bar on ``sys.stderr``, for terminals and notebooks.

Jupyter captures ``sys.stderr`` (not file descriptor 2), so the bar is drawn from Python: a
carriage-return line, redrawn at most ten times a second, and nothing at all when stderr is
neither a terminal nor a notebook (a log file, a pipe).
"""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

__all__ = ["Bar"]


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython  # type: ignore[import-not-found]
    except ImportError:
        return False
    ip = get_ipython()
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


class Bar:
    """``[########------------]  470/940 templates  1.2k tpl/s  3 s``."""

    WIDTH = 20

    def __init__(self, label: str, enabled: bool = True, stream: Optional[TextIO] = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = enabled and (isatty() or _in_notebook())
        self.label = label
        self.t0 = time.monotonic()
        self.last_draw = 0.0
        self.drawn = False

    def update(self, done: int, total: int, force: bool = False) -> None:
        """Redraws the bar (at most every 0.1 s unless ``force``)."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        frac = done / total if total else 0.0
        fill = int(round(frac * self.WIDTH))
        secs = now - self.t0
        rate = f"  {done / secs:,.0f} tpl/s" if secs >= 1 and done else ""
        line = (
            f"\r{self.label} [{'#' * fill}{'-' * (self.WIDTH - fill)}] "
            f"{done}/{total} templates{rate}  {secs:.0f} s"
        )
        self.stream.write(line[:100])
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        """Clears the bar's line."""
        if self.enabled and self.drawn:
            self.stream.write("\r" + " " * 100 + "\r")
            self.stream.flush()
