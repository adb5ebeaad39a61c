"""Stop requests (SIGTERM, Ctrl-C) that cannot be lost.

A Python signal handler runs at the next bytecode boundary of the main thread, wherever that is: inside a finaliser
or a library's ``except Exception`` its exception can be swallowed, and the run would finish and publish its output as
if nothing had happened. So the handler also records the request here, and the places that publish or loop
(:func:`vsrkit.io.atomic.commit`, the streaming loop) call :func:`check`, which raises again. A swallowed signal thus
costs at most one more frame, never a committed output.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator


class Terminated(Exception):
    """The process was asked to stop (SIGTERM)."""


_requested: dict[str, bool] = {"terminate": False, "interrupt": False}


def check() -> None:
    """Raise :class:`Terminated` / :class:`KeyboardInterrupt` if a stop was requested since the handlers went in."""
    if _requested["terminate"]:
        raise Terminated()
    if _requested["interrupt"]:
        raise KeyboardInterrupt()


def _on_sigterm(signum: int, frame: object) -> None:
    _requested["terminate"] = True
    raise Terminated()


def _on_sigint(signum: int, frame: object) -> None:
    _requested["interrupt"] = True
    raise KeyboardInterrupt()


@contextmanager
def stop_handlers() -> Iterator[None]:
    """Install the SIGTERM/SIGINT handlers for the duration of a command (main thread only; elsewhere a no-op) and
    restore the previous ones afterwards, so an in-process caller (tests, notebooks) gets its own handlers back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    _requested.update(terminate=False, interrupt=False)
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _requested.update(terminate=False, interrupt=False)
