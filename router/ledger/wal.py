"""Opening one SQLite file in WAL mode from several processes at once.

Replicas (`serve --workers N`) start together and race to switch the file to WAL and to create
its tables. SQLite answers "database is locked" at once there rather than waiting on its busy
handler (it would otherwise deadlock on the lock upgrade), so the open is retried for a while.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["open_wal"]

OPEN_PATIENCE_S = 10.0


def open_wal(
    path: Path,
    *,
    synchronous: str,
    busy_ms: int,
    setup: Callable[[sqlite3.Connection], object],
    patience_s: float = OPEN_PATIENCE_S,
) -> sqlite3.Connection:
    """A connection to `path` in WAL mode after `setup(conn)` ran; retries while it is locked.

    Raises the last sqlite3.Error (or OSError) when the file cannot be opened.
    """
    deadline = time.monotonic() + patience_s
    while True:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None, timeout=busy_ms / 1000
        )
        try:
            conn.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={synchronous}")
            setup(conn)
            return conn
        except sqlite3.OperationalError as exc:
            conn.close()
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
        except BaseException:
            conn.close()
            raise
