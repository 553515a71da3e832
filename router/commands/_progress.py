"""A progress bar for the commands that run more than a few seconds (tqdm, on stderr)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TextIO

__all__ = ["progress_bar"]


@contextlib.contextmanager
def progress_bar(
    description: str, *, quiet: bool = False, file: TextIO | None = None
) -> Iterator[Callable[[int, int], None]]:
    """A `progress(done, total)` callback drawing one bar on `file` (stderr); on stderr, silent
    when quiet or not a terminal."""
    from tqdm import tqdm

    off = quiet or (file is None and not sys.stderr.isatty())
    bar = tqdm(desc=description, unit="fit", file=file, disable=off, leave=file is not None)

    def update(done: int, total: int) -> None:
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        bar.close()
