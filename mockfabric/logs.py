"""serve's log lines (the access log, warnings), written by a thread of their own.

What must hold: logging never stalls the event loop. A process that starts `mockfabric serve` with its standard
error piped and never reads it (a common test fixture) fills the pipe after a few hundred lines; a write from the
loop would then block every client. Lines wait in a bounded queue for the writer thread; when LIMIT lines wait, new
ones are dropped and counted, and the count is written once the reader catches up.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from typing import TextIO

LIMIT = 10_000  # lines waiting for the writer, past which new ones are dropped


class BackgroundLog(logging.Handler):
    def __init__(self, stream: TextIO, limit: int = LIMIT) -> None:
        super().__init__()
        self.stream = stream
        self.lines: queue.Queue[str] = queue.Queue(limit)
        self._dropped = 0
        self._count_lock = threading.Lock()
        self._writer = threading.Thread(target=self._write, name="mockfabric-log", daemon=True)
        self._writer.start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # logging's own convention: a record that cannot be formatted is reported, not raised
            self.handleError(record)
            return
        try:
            self.lines.put_nowait(line)
        except queue.Full:
            with self._count_lock:
                self._dropped += 1

    def drain(self, seconds: float) -> None:
        """Wait up to `seconds` for the waiting lines to be written (a reader that never reads gets nothing more)."""
        deadline = time.monotonic() + seconds
        while self.lines.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def _write(self) -> None:
        while True:
            line = self.lines.get()
            with self._count_lock:
                dropped, self._dropped = self._dropped, 0
            if dropped:
                line = f"mockfabric: {dropped} log line(s) dropped: standard error was not read fast enough\n{line}"
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except (OSError, ValueError):  # a closed pipe or stream: nobody reads, nothing to do
                pass
            finally:
                self.lines.task_done()
