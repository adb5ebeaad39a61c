"""Segments on a Ray cluster: the same :func:`~vsrkit.engine.segments.render_segment` on many machines.

:class:`RaySegments` is a segment executor (see :class:`~vsrkit.engine.segments.SegmentExecutor`) for
:func:`~vsrkit.engine.segments.upscale_resumable`. The driver (the machine running ``vsrkit upscale --ray``) decodes
the input once, hands each segment's LR frames to a stateful Ray actor, receives the segment's lossless file as
bytes and commits it into the work folder; the output is assembled once by the same
:func:`~vsrkit.engine.segments.stitch` as a local run. Only the driver touches files, so the workers need no shared
filesystem.

* The model is shipped once through the object store and built once per actor (``--workers`` actors, each
  reserving ``--cpus-per-worker`` CPUs and ``--gpus-per-worker`` GPUs).
* Backpressure: a segment is decoded only when an actor is free, so at most ``workers`` segments are in flight and
  a library larger than memory streams through.
* A worker that dies (killed, out of memory, node lost) is restarted by Ray and its segment is retried
  (``max_restarts`` / ``max_task_retries``); segments are pure functions of their input, so the output is complete
  and identical. A driver that dies resumes like any segmented run: finished segments are in the work folder.

Requires the optional extra ``vsrkit[ray]`` (``pip install "ray>=2.9"``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from torch import nn

from vsrkit.engine.infer import InferenceOptions, Upscaler
from vsrkit.engine.segments import Segment, render_segment
from vsrkit.engine.workfolder import WorkFolder
from vsrkit.errors import VsrkitError
from vsrkit.models.registry import ModelSpec


def _import_ray():
    try:
        import ray
    except ImportError:
        raise VsrkitError("--ray needs Ray, which is not installed: pip install 'vsrkit[ray]' (or pip install ray)") \
            from None
    return ray


class _SegmentWorker:
    """A Ray actor: builds the runner once, then renders segments into bytes of their lossless file."""

    def __init__(self, payload: tuple[nn.Module, ModelSpec, InferenceOptions], threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        model, spec, options = payload
        self.runner = Upscaler(model, spec, options)

    def render(self, segment: Segment) -> tuple[dict[str, Any], bytes]:
        with tempfile.TemporaryDirectory(prefix="vsrkit-segment-") as tmp:
            path = Path(tmp) / "segment.mkv"
            record = render_segment(self.runner, segment, path)
            return record, path.read_bytes()

    def pid(self) -> int:
        return os.getpid()


class RaySegments:
    """Renders segments on Ray actors; use as a context manager (the actors are released on exit)."""

    def __init__(self, model: nn.Module, model_spec: ModelSpec, options: InferenceOptions, *,
                 address: str | None = None, workers: int | None = None, cpus_per_worker: float = 1,
                 gpus_per_worker: float = 0, max_retries: int = 3) -> None:
        ray = self._ray = _import_ray()
        if not ray.is_initialized():
            try:
                ray.init(address=address, include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as e:
                msg = " ".join(str(e).split())[:300]
                raise VsrkitError(f"cannot connect to the Ray cluster at {address or 'a new local cluster'} ({msg}): "
                                  "check --ray ADDRESS (e.g. ray://head:10001 or auto)") from None
        if workers is None:
            cpus = ray.cluster_resources().get("CPU", 1)
            workers = max(1, int(cpus // max(cpus_per_worker, 1e-9)))
            if gpus_per_worker:
                workers = min(workers, max(1, int(ray.cluster_resources().get("GPU", 0) // gpus_per_worker)))
        if workers < 1:
            raise VsrkitError(f"--workers must be at least 1 (got {workers})")
        payload = ray.put((model.cpu().eval(), model_spec, options))
        actor = ray.remote(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker, max_restarts=max_retries,
                           max_task_retries=max_retries)(_SegmentWorker)
        self.actors = [actor.remote(payload, int(max(1, cpus_per_worker))) for _ in range(workers)]
        self._payload = payload  # kept alive: a restarted actor rebuilds its model from it

    def run(self, segments: Iterator[Segment], work: WorkFolder,
            on_frame: Callable[[], None]) -> Iterator[dict[str, Any]]:
        ray = self._ray
        idle = list(self.actors)
        pending: dict[Any, Any] = {}  # result ref -> actor

        def finish_one() -> dict[str, Any]:
            done, _ = ray.wait(list(pending), num_returns=1)
            ref = done[0]
            idle.append(pending.pop(ref))
            try:
                record, data = ray.get(ref)
            except ray.exceptions.RayTaskError as e:  # the segment itself failed (not a lost worker): report it
                cause = e.cause if isinstance(getattr(e, "cause", None), Exception) else e
                if isinstance(cause, VsrkitError):
                    raise cause from None
                raise VsrkitError(f"a Ray worker failed on a segment ({type(cause).__name__}: "
                                  f"{' '.join(str(cause).split())[:300]})") from None
            except ray.exceptions.RayActorError as e:
                raise VsrkitError(f"a Ray worker died more often than its retries allow "
                                  f"({' '.join(str(e).split())[:200]}): check the workers' memory and logs") from None
            for _ in range(record["frames"]):
                on_frame()
            return work.commit_segment(record, data)

        for seg in segments:
            while not idle:
                yield finish_one()
            actor = idle.pop()
            pending[actor.render.remote(seg)] = actor
        while pending:
            yield finish_one()

    def worker_pids(self) -> list[int]:
        """Process ids of the actors (tests kill one to show that its segment is retried)."""
        return self._ray.get([a.pid.remote() for a in self.actors])

    def close(self) -> None:
        for a in self.actors:
            self._ray.kill(a)
        self.actors = []

    def __enter__(self) -> "RaySegments":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
