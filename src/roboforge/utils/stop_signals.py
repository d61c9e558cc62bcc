"""SIGTERM as Ctrl-C for a long command (training, eval, deploy's sim episodes), with blocks that hold a stop
until they end (a checkpoint being written, sums being updated)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


class StopSignals:
    """SIGTERM and Ctrl-C as KeyboardInterrupt while installed, except inside `held()`, where the stop waits
    until the block ends: a checkpoint being written (an interrupt inside torch.save leaves a torn file and
    C++ state behind it; torch raises RuntimeError, not KeyboardInterrupt, and the process can abort), or
    episode sums being updated (a stop between them would count an episode in one sum and not another)."""

    def __init__(self) -> None:
        self.holding = False
        self.pending = False
        self.received = False
        """A stop arrived while installed (held, raised or dropped)."""

    def handler(self, signum, frame) -> None:
        self.received = True
        if self.holding:
            self.pending = True
            return
        raise KeyboardInterrupt

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        """Install the handler for SIGTERM and SIGINT for the duration (nothing outside the main thread)."""
        try:
            previous = {sig: signal.signal(sig, self.handler) for sig in (signal.SIGTERM, signal.SIGINT)}
        except ValueError:  # not the main thread
            yield self
            return
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    @contextlib.contextmanager
    def held(self, raise_after: bool = True) -> Iterator[None]:
        """Hold a stop that arrives inside the block; raise it as KeyboardInterrupt once the block is done
        (`raise_after`), or drop it (the last save of a run that is stopping anyway)."""
        outer, self.holding = self.holding, True
        try:
            yield
        finally:
            self.holding = outer
        if not raise_after:
            self.pending = False
        elif self.pending and not outer:
            self.pending = False
            raise KeyboardInterrupt
