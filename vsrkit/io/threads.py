"""Bounded producer/consumer threads that overlap decoding and encoding with compute.

:class:`Prefetcher` runs a generator ahead of its consumer (readers); :class:`Worker` handles items behind their
producer (writers). Both keep memory flat with a bounded queue and hand exceptions back to the caller's thread.
"""

from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Generic, Iterator, TypeVar

T = TypeVar("T")
_END = object()


class Prefetcher(Generic[T]):
    """Runs a generator in a daemon thread and hands its items over through a bounded queue.

    The bound keeps memory flat on long videos; the thread lets decoding and colour conversion (which release the
    GIL inside FFmpeg) overlap with the model. An exception in the generator is re-raised in the consumer at the
    point it would have received the next item. ``close()`` works while the producer is blocked on a full queue.
    """

    def __init__(self, make_iter: Callable[[], Iterator[T]], *, threaded: bool, queue_size: int, name: str):
        self._make_iter = make_iter
        self._threaded = threaded
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_size))
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._direct: Iterator[T] | None = None
        self._done = False
        self._name = name

    def _run(self) -> None:
        it = self._make_iter()
        try:
            for item in it:
                if not self._put(item):
                    break
        except BaseException as e:  # noqa: BLE001 - everything must reach the consumer
            self._error = e
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                try:
                    close()  # runs the generator's finally: releases the container in this thread
                except Exception:  # noqa: BLE001
                    pass
            self._put(_END)

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> "Prefetcher[T]":
        return self

    def __next__(self) -> T:
        if self._done:
            raise StopIteration
        if not self._threaded:
            if self._direct is None:
                self._direct = self._make_iter()
            try:
                return next(self._direct)
            except StopIteration:
                self._done = True
                raise
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
            self._thread.start()
        while True:
            try:
                item = self._queue.get(timeout=0.1)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    item = _END
                    break
        if item is _END:
            self._done = True
            if self._error is not None:
                err, self._error = self._error, None
                raise err
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the producer (even if blocked on a full queue) and wait for it to release its resources."""
        self._done = True
        self._stop.set()
        if self._thread is not None:
            while self._thread.is_alive():
                try:  # unblock a producer waiting on put
                    while True:
                        self._queue.get_nowait()
                except queue.Empty:
                    pass
                self._thread.join(timeout=0.05)
        elif self._direct is not None:
            close = getattr(self._direct, "close", None)
            if close is not None:
                close()


class Worker(Generic[T]):
    """The mirror of :class:`Prefetcher`: items put by the caller are processed by ``handle`` in a thread.

    ``put`` raises the worker's exception (if any) so a failing encoder stops the pipeline at the next frame.
    """

    def __init__(self, handle: Callable[[T], None], *, threaded: bool, queue_size: int, name: str):
        self._handle = handle
        self._threaded = threaded
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max(1, queue_size))
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _END:
                return
            if self._error is not None or self._stop.is_set():
                continue  # keep draining so the caller never blocks on a dead worker
            try:
                self._handle(item)
            except BaseException as e:  # noqa: BLE001
                self._error = e

    def _raise_pending(self) -> None:
        if self._error is not None:
            err, self._error = self._error, None
            self._stop.set()
            raise err

    def put(self, item: T) -> None:
        self._raise_pending()
        if self._thread is None:
            self._handle(item)
            return
        while True:
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                self._raise_pending()

    def finish(self, *, discard: bool = False) -> None:
        """Wait until every queued item is handled (or dropped when ``discard``), then re-raise a worker error."""
        if discard:
            self._stop.set()
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(_END)
            self._thread.join()
        if not discard:
            self._raise_pending()
