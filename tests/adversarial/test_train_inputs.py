"""`vsrkit train` × bad inputs (issue 13): a missing, empty, non-YAML or Python-tagged config, a missing or empty
dataset folder, frames of different sizes, an unknown model, an --out that is somebody else's folder or a file,
and --resume auto on a foreign folder. Each is a one-line error without a traceback, and the config, the dataset
and the --out folder are left as they were."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .adversarial_helpers import assert_one_line_error, real_frames, run_cli, snapshot, write_folder


def _config(root: Path, **changes) -> dict:
    cfg = {
        "name": "tiny", "manual_seed": 0, "scale": 4, "device": "cpu",
        "model": {"name": "basicvsr", "variant": "small", "overrides": {"num_feat": 8, "num_block": 1}},
        "datasets": {"train": {"type": "folder", "dataroot_gt": str(root / "train"), "protocol": "bi",
                               "num_frame": 3, "gt_size": 136, "batch_size_per_gpu": 1, "num_worker_per_gpu": 0}},
        "train": {"total_iter": 1, "optim_g": {"type": "Adam", "lr": 1e-4}},
        "logger": {"print_freq": 1, "save_checkpoint_freq": 1, "use_tb_logger": False},
    }
    for section, value in changes.items():
        cfg[section] = {**cfg.get(section, {}), **value} if isinstance(value, dict) else value
    return cfg


@pytest.fixture
def world(tmp_path):
    """A dataset (train/clip: 4 real 144×144 frames) and a user's folder with their own files."""
    write_folder(tmp_path / "train" / "clip", real_frames(4, 144, 144))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("the user's")
    return tmp_path


def _bad_dataset(root: Path, kind: str) -> Path:
    data = root / f"data-{kind}"
    if kind == "empty":
        data.mkdir()
    elif kind == "empty clip":
        (data / "clip").mkdir(parents=True)
    elif kind == "mixed sizes":
        write_folder(data / "clip", real_frames(2, 144, 144) + real_frames(2, 136, 144)[1:])
    return data


CASES = {
    "missing config": (None, "does not exist"),
    "empty config": ("", "config"),
    "not YAML": ("model: [unclosed\n  name: {", "not valid YAML"),
    "binary config": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "config"),
    "python tag": ("!!python/object/apply:os.system ['touch pwned']\n", "config"),
    "a list, not a mapping": ("- a\n- b\n", "mapping"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_configs_are_one_line_errors(world, capsys, case, monkeypatch):
    text, needle = CASES[case]
    path = world / "config.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text is not None:
        path.write_text(text)
    monkeypatch.chdir(world)
    before = snapshot(world)
    rc, _, err = run_cli(capsys, "train", path, "--out", world / "run", "--quiet")
    assert_one_line_error(rc, err, needle)
    assert snapshot(world) == before and not (world / "run").exists() and not (world / "pwned").exists()


DATA_CASES = {
    "missing dataset folder": ("missing", None),
    "empty dataset folder": ("empty", None),
    "clip folder without frames": ("empty clip", None),
    "frames of different sizes": ("mixed sizes", "size"),
}


@pytest.mark.parametrize("case", list(DATA_CASES))
def test_bad_datasets_are_one_line_errors(world, capsys, case):
    kind, needle = DATA_CASES[case]
    data = _bad_dataset(world, kind)
    cfg = world / "config.yaml"
    cfg.write_text(yaml.safe_dump(_config(world, datasets={"train": {**_config(world)["datasets"]["train"],
                                                                     "dataroot_gt": str(data)}})))
    before = snapshot(world)
    rc, _, err = run_cli(capsys, "train", cfg, "--out", world / "run", "--quiet")
    assert_one_line_error(rc, err, str(data.name), *([needle] if needle else []))
    assert snapshot(world) == before and not (world / "run").exists()


def test_unknown_model_is_a_one_line_error(world, capsys):
    cfg = world / "config.yaml"
    cfg.write_text(yaml.safe_dump(_config(world, model={"name": "no-such-model", "variant": None})))
    before = snapshot(world)
    rc, _, err = run_cli(capsys, "train", cfg, "--out", world / "run", "--quiet")
    assert_one_line_error(rc, err, "no-such-model")
    assert snapshot(world) == before and not (world / "run").exists()


@pytest.mark.parametrize("resume", [None, "auto"])
def test_out_that_is_not_a_vsrkit_run_is_refused(world, capsys, resume):
    """--out names the user's folder (with or without --resume auto) or a file: training there would mix its
    checkpoints into unrelated files, or fail half-way."""
    cfg = world / "config.yaml"
    cfg.write_text(yaml.safe_dump(_config(world)))
    a_file = world / "file.txt"
    a_file.write_text("not a folder")
    for out in (world / "mine", a_file):
        before = snapshot(world)
        rc, _, err = run_cli(capsys, "train", cfg, "--out", out, "--quiet", *(["--resume", resume] if resume else []))
        assert_one_line_error(rc, err, str(out))
        assert snapshot(world) == before
