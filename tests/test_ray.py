"""Segments on a local Ray cluster (127.0.0.1 only): outputs equal the single-process ones, also when a worker is
killed mid-run. Skipped when Ray is not installed (CI installs the ``vsrkit[ray]`` extra so these run)."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install 'vsrkit[ray]' to run the Ray tests")

from test_batch import CLIPS, frames_of, make_real_clip  # noqa: E402
from test_segments import LOSSLESS, RECURRENT, BoxRecurrentSR  # noqa: E402

from vsrkit.engine.batch import plan_outputs, upscale_batch  # noqa: E402
from vsrkit.engine.infer import InferenceOptions  # noqa: E402
from vsrkit.engine.ray_segments import RaySegments  # noqa: E402
from vsrkit.engine.segments import upscale_resumable  # noqa: E402

pytestmark = pytest.mark.slow


class SlowBoxSR(BoxRecurrentSR):
    """The recurrent toy model, slowed down so that a worker can be killed while it holds a segment."""

    def forward(self, x):
        import time

        time.sleep(0.15)
        return super().forward(x)


@pytest.fixture(scope="module")
def local_cluster():
    # The test models live in test modules the workers cannot import: ship them by value.
    for name in ("test_segments", __name__):
        ray.cloudpickle.register_pickle_by_value(sys.modules[name])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1",
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(sys.path)}})
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("rayclips")
    return [make_real_clip(folder / fname, name, rows, cols, codec, pix_fmt, audio)
            for name, rows, cols, fname, codec, pix_fmt, audio in CLIPS[:3]]


def _batch(clips: list[Path], outdir: Path, model, executor=None) -> list:
    opts = InferenceOptions(chunk=2, chunk_overlap=2)

    def one(src, dst, *, progress, on_frame):
        return upscale_resumable(src, dst, model=model, model_spec=RECURRENT, options=opts, encode=LOSSLESS,
                                 segment=2, progress=progress, on_frame=on_frame, executor=executor)

    return upscale_batch(plan_outputs(clips, outdir, "mkv"), one, progress=False)


def test_ray_batch_equals_single_process(tmp_path, clips, local_cluster):
    model = BoxRecurrentSR()
    local = _batch(clips, tmp_path / "local", model)
    with RaySegments(model, RECURRENT, InferenceOptions(chunk=2, chunk_overlap=2), workers=2) as executor:
        remote = _batch(clips, tmp_path / "ray", model, executor)
    assert [it.status for it in local] == [it.status for it in remote] == ["done"] * 3
    for a, b in zip(local, remote):
        fa, fb = frames_of(Path(a.output)), frames_of(Path(b.output))
        assert len(fa) == len(fb) == 6 and all(np.array_equal(x, y) for x, y in zip(fa, fb))
    assert sorted(p.name for p in (tmp_path / "ray").iterdir()) == sorted(Path(it.output).name for it in local)


def test_a_killed_worker_segment_is_retried(tmp_path, clips, local_cluster):
    model = SlowBoxSR()
    opts = InferenceOptions(chunk=2, chunk_overlap=2)
    plain = tmp_path / "plain.mkv"
    upscale_resumable(clips[0], plain, model=model, model_spec=RECURRENT, options=opts, encode=LOSSLESS, segment=2,
                      progress=False)
    with RaySegments(model, RECURRENT, opts, workers=2) as executor:
        victim = executor.worker_pids()[0]

        class KillAfterFirst:
            def run(self, segments, work, on_frame):
                for i, rec in enumerate(executor.run(segments, work, on_frame)):
                    if i == 0:
                        os.kill(victim, signal.SIGKILL)  # the other worker is mid-segment, this one gets its next
                    yield rec

        out = tmp_path / "out.mkv"
        upscale_resumable(clips[0], out, model=model, model_spec=RECURRENT, options=opts, encode=LOSSLESS,
                          segment=2, progress=False, executor=KillAfterFirst())
        assert victim not in executor.worker_pids()  # the killed actor was restarted in a new process
    fa, fb = frames_of(plain), frames_of(out)
    assert len(fa) == len(fb) == 6 and all(np.array_equal(x, y) for x, y in zip(fa, fb))
