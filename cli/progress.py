"""Progress wherever a person waits: a bar with a rate and an ETA on a terminal (tqdm),
else one line every ``every_s`` seconds (logs, CI, `docker compose run` without -t)."""

from __future__ import annotations

import sys
import time
from types import TracebackType
from typing import Any, TextIO

EVERY_S = 10.0


class Progress:
    """``with Progress(total, "scoring") as bar: bar.update(n)``; the total may be a guess
    (XGBoost's rounds end early with early stopping): the last line says what was done."""

    def __init__(
        self,
        total: int,
        label: str,
        unit: str = "events",
        *,
        file: TextIO | None = None,
        every_s: float = EVERY_S,
        tty: bool | None = None,
    ) -> None:
        self.total, self.label, self.unit, self.every_s = total, label, unit, every_s
        self.file = file or sys.stderr
        self.done = 0
        self._started = self._reported = time.monotonic()
        on_terminal = self.file.isatty() if tty is None else tty
        self._bar: Any = None
        if on_terminal:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=label, unit=f" {unit}", unit_scale=True, file=self.file)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if now - self._reported >= self.every_s:
            self._reported = now
            self._line(now)

    def _line(self, now: float) -> None:
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        share = f" ({self.done / self.total:.0%})" if self.total else ""
        left = (self.total - self.done) / rate if rate > 0 and self.total > self.done else 0.0
        print(
            f"{self.label}: {self.done:,}/{self.total:,} {self.unit}{share}, "
            f"{rate:,.0f} {self.unit}/s, ETA {_clock(left)}",
            file=self.file,
            flush=True,
        )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            return
        elapsed = time.monotonic() - self._started
        print(
            f"{self.label}: {self.done:,} {self.unit} in {elapsed:.1f} s "
            f"({self.done / max(elapsed, 1e-9):,.0f} {self.unit}/s)",
            file=self.file,
            flush=True,
        )

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds + 0.5), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}"
