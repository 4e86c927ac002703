"""Python's cycle collector paused around the stages that build many objects and few
garbage cycles (parsing, checking, compiling, the statistics' results).

Each full collection walks every object alive, so a stage that builds tens of thousands of
long-lived objects paid, with the collector left on, for walks of everything built so far:
more per object in a larger project. Reference counting still frees what such a stage
drops; the collector runs again after it, as it was."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[bool]:
    """Automatic collection off for the block and back as it was after; yields whether it
    was on (a caller that paused it itself gets False, and should leave it alone)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield enabled
    finally:
        if enabled:
            gc.enable()
