"""Shipped checkpoints: files match the index, cards are complete, every learned method beats bicubic on its own
held-out protocol, the default model's card numbers are reproduced from the shipped file, and the CLI picks them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from vsrkit.engine import scoring
from vsrkit.engine.upscale import resolve_model
from vsrkit.errors import VsrkitError
from vsrkit.models import catalogue
from vsrkit.models.weights import load_state_dict, sha256_file

SHIPPED = [name for name in catalogue.SHIPPED if catalogue.shipped_path(name) is not None]


def test_default_models_are_shipped():
    assert catalogue.DEFAULT_SHARP in SHIPPED and catalogue.DEFAULT_BLURRY in SHIPPED


def test_index_hashes_sizes_and_budget():
    idx = catalogue.index()
    assert sorted(idx) == sorted(SHIPPED)
    total = 0
    for name in SHIPPED:
        path = catalogue.shipped_path(name)
        assert idx[name]["sha256"] == sha256_file(path), f"{name}: file differs from index.json"
        total += path.stat().st_size
    assert total <= 40 * 2**20, f"shipped weights take {total / 2**20:.1f} MiB (> 40 MiB)"


@pytest.mark.parametrize("name", SHIPPED)
def test_cards_are_complete_and_beat_bicubic(name):
    card = catalogue.shipped_card(name)
    entry = catalogue.SHIPPED[name]
    assert card["method"] == entry.method and card["storage"] in ("fp16", "fp32")
    training = card["training"]
    constructed = entry.evaluation["kind"] == "flow" and "sad_search" in training["data"]  # weights by construction
    assert (training["iterations"] > 0 or constructed) and training["hardware"] and training["data"]
    scores = card["scores"]
    if entry.evaluation["kind"] == "clip":
        best = scores.get("adapted", scores["model"])
        assert best["psnr_y"] > scores["bicubic"]["psnr_y"] and best["psnr_rgb"] > scores["bicubic"]["psnr_rgb"]
    elif entry.evaluation["kind"] == "images":
        assert scores["x4"]["psnr"] > scores["x4"]["bicubic_psnr"]
    elif entry.evaluation["kind"] == "flow":  # issue 18: a shipped flow network follows known 1-4 px shifts
        assert scores["epe_1_4"] < 0.5
    if card["storage"] == "fp16":
        assert abs(card["fp16_delta_db"]) <= 0.01
        assert all(v.dtype in (torch.float16, torch.int64) for v in load_state_dict(catalogue.shipped_path(name)).values())


def test_default_model_gains_one_db_over_bicubic():
    scores = catalogue.shipped_card(catalogue.DEFAULT_SHARP)["scores"]
    assert scores["model"]["psnr_y"] - scores["bicubic"]["psnr_y"] >= 1.0


@pytest.mark.parametrize("name", [n for n in SHIPPED if catalogue.SHIPPED[n].method not in ("mfdn", "spynet")])
def test_resolve_model_loads_shipped_weights(name):
    model, spec = resolve_model(name)
    state = load_state_dict(catalogue.shipped_path(name))
    own = model.state_dict()
    assert spec.name == catalogue.SHIPPED[name].method
    assert all(torch.equal(own[k], v.to(own[k].dtype)) for k, v in state.items())
    assert catalogue.parameter_count(name) == sum(p.numel() for p in model.parameters())  # what `vsrkit models` shows
    with pytest.raises(VsrkitError, match="shipped"):
        resolve_model(name, variant="paper")


def test_unshipped_model_needs_weights():
    with pytest.raises(VsrkitError, match="no shipped weights"):
        resolve_model("toflow")
    assert resolve_model("toflow", untrained=True)[1].name == "toflow"


def test_default_card_reproduced_from_the_shipped_file():
    """The benchmark's job in miniature: re-measure the default model on the held-out clip."""
    card = catalogue.shipped_card(catalogue.DEFAULT_SHARP)
    torch.manual_seed(0)
    measured = scoring.evaluate_entry(catalogue.DEFAULT_SHARP)
    for group in ("model", "bicubic"):
        for k in ("psnr_rgb", "psnr_y"):
            assert measured[group][k] == pytest.approx(card["scores"][group][k], abs=2e-3), (group, k)


def test_test_split_scoring_compares_other_entries_on_the_same_lr():
    """--compare scores another shipped entry on the entry's own LR: the default compared with itself scores
    identically (same LR, same weights), and an entry of another scale is refused in one line."""
    scores = scoring.score_test_split(catalogue.DEFAULT_SHARP, clips=["carphone"], frames=3,
                                      compare=(catalogue.DEFAULT_SHARP,))
    assert set(scores["mean"]) == {"model", "bicubic", "lanczos", catalogue.DEFAULT_SHARP}
    assert scores["mean"]["model"] == scores["mean"][catalogue.DEFAULT_SHARP]
    assert scores["mean"]["model"]["psnr_y"] != scores["mean"]["bicubic"]["psnr_y"]
    other_scale = next(n for n, e in catalogue.SHIPPED.items() if e.evaluation.get("kind") == "clip"
                       and e.evaluation.get("scale") != 4 and catalogue.shipped_path(n) is not None)
    with pytest.raises(VsrkitError, match="same scale"):
        scoring.score_test_split(catalogue.DEFAULT_SHARP, clips=["carphone"], frames=3, compare=(other_scale,))


def test_cli_default_and_blurry_models(tmp_path, capsys):
    import cv2
    import numpy as np

    from vsrkit.cli import main

    frames = tmp_path / "lr"
    frames.mkdir()
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8), (40, 32), interpolation=cv2.INTER_CUBIC)
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:08d}.png"), np.roll(base, i, axis=1))
    assert main(["upscale", str(frames), "-o", str(tmp_path / "sharp"), "--quiet"]) == 0
    assert f"with {catalogue.DEFAULT_SHARP} (shipped weights)" in capsys.readouterr().out
    assert main(["upscale", str(frames), "-o", str(tmp_path / "blurry"), "--blurry", "--quiet"]) == 0
    assert f"with {catalogue.DEFAULT_BLURRY} (shipped weights)" in capsys.readouterr().out
    for out in ("sharp", "blurry"):
        assert [cv2.imread(str(p)).shape for p in sorted((tmp_path / out).iterdir())] == [(128, 160, 3)] * 3
    assert main(["upscale", str(frames), "-o", str(tmp_path / "x"), "--blurry", "-m", "basicvsr"]) == 2
    assert main(["upscale", str(frames), "-o", str(tmp_path / "y"), "--scale", "2"]) == 2
    assert "-m srinr" in capsys.readouterr().err


def test_models_command_lists_shipped_scores(capsys):
    from vsrkit.cli import main

    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "shipped checkpoints" in out
    for name in SHIPPED:
        assert any(line.startswith(name + " ") for line in out.splitlines()[-len(SHIPPED) - 1 :]), name
    assert main(["models", "--json"]) == 0
    json.loads(capsys.readouterr().out)


def test_default_upscale_beats_bicubic_by_one_db_through_the_cli(tmp_path, capsys):
    """The README's fresh-machine check: degrade the held-out clip (BI x4), upscale with no --model, score with
    `vsrkit eval`; the shipped default must gain >= 1 dB PSNR-Y over bicubic on the same LR."""
    from vsrkit.cli import main

    lr, gt = tmp_path / "lr", tmp_path / "gt"
    assert main(["degrade", "sample:carphone", str(lr), "-p", "bi", "--max-frames", "12", "--save-hr", str(gt)]) == 0
    scores = {}
    for name, extra in (("default", []), ("bicubic", ["-m", "bicubic"])):
        assert main(["upscale", str(lr), "-o", str(tmp_path / name), "--quiet", *extra]) == 0
        capsys.readouterr()
        assert main(["eval", "--pred", str(tmp_path / name), "--gt", str(gt), "--json"]) == 0
        scores[name] = json.loads(capsys.readouterr().out)["mean"]["psnr_y"]
    assert scores["default"] - scores["bicubic"] >= 1.0, scores


def test_cli_real_picks_the_real_world_checkpoint_or_names_its_training(tmp_path, capsys):
    """--real runs the shipped real-world model; until one ships, one line names the config that trains it."""
    from vsrkit.cli import main

    entry = catalogue.SHIPPED[catalogue.DEFAULT_REAL]
    assert Path(entry.config).name == "basicvsr_small_real.yaml"
    assert (Path(__file__).resolve().parents[1] / entry.config).is_file()
    assert entry.evaluation["protocol"]["name"] == "compressed"
    frames = tmp_path / "lr"
    frames.mkdir()
    import cv2
    import numpy as np

    for i in range(2):
        cv2.imwrite(str(frames / f"{i:08d}.png"), np.full((36, 40, 3), 60 + i, np.uint8))
    code = main(["upscale", str(frames), "-o", str(tmp_path / "out"), "--real", "--quiet"])
    err = capsys.readouterr().err
    if catalogue.shipped_path(catalogue.DEFAULT_REAL) is None:
        assert code == 2 and f"vsrkit train {entry.config}" in err and len(err.strip().splitlines()) == 1
    else:
        assert code == 0
    assert main(["upscale", str(frames), "-o", str(tmp_path / "x"), "--real", "-m", "basicvsr"]) == 2
    assert main(["upscale", str(frames), "-o", str(tmp_path / "y"), "--real", "--blurry"]) == 2


@pytest.mark.parametrize("name", [n for n in catalogue.SHIPPED if catalogue.SHIPPED[n].evaluation.get("kind") == "clip"])
def test_card_protocol_reproduces_from_the_command_line(name, tmp_path):
    """Every clip entry's protocol, written as a -p / --degradation string, parses back to the same options and
    degrades exactly as the card's evaluation does (same pixels, same parameters); for one entry, through
    `vsrkit degrade --protocol-opt` itself."""
    import cv2
    import numpy as np

    from vsrkit.cli import main
    from vsrkit.data import Clip, sample_clip
    from vsrkit.degrade import get_protocol, parse_protocol, protocol_string
    from vsrkit.engine.config import build_protocol
    from vsrkit.io import list_frames, read_image

    ev = catalogue.SHIPPED[name].evaluation
    text = protocol_string(ev["protocol"])
    spec = ev["protocol"] if isinstance(ev["protocol"], dict) else {"name": ev["protocol"]}
    parsed_name, options = parse_protocol(text)
    assert {"name": parsed_name, **options} == spec
    frames = Clip("c", sample_clip(ev["clip"])).read(range(3))[:, :96, :128]
    card_way = build_protocol({"protocol": ev["protocol"]}, int(ev["scale"]))(frames, int(ev["seed"]))
    cli_way = get_protocol(text, scale=int(ev["scale"]))(frames, int(ev["seed"]))
    assert np.array_equal(card_way.lr, cli_way.lr) and card_way.params == cli_way.params
    if name == "edvr":
        src = tmp_path / "hr"
        src.mkdir()
        for i, f in enumerate(frames):
            cv2.imwrite(str(src / f"{i:08d}.png"), np.ascontiguousarray(f[..., ::-1]))
        base, _, opts = text.partition(":")
        pairs = [arg for o in opts.split(",") for arg in ("--protocol-opt", o)]
        assert main(["degrade", str(src), str(tmp_path / "lr"), "-p", base, "--scale", str(ev["scale"]),
                     "--seed", str(ev["seed"]), *pairs]) == 0
        written = np.stack([read_image(p) for p in list_frames(tmp_path / "lr")])
        assert np.array_equal(written, card_way.lr)
@pytest.mark.skipif("spynet" not in SHIPPED, reason="no shipped SpyNet")
def test_shipped_spynet_follows_known_shifts_and_starts_video_models():
    """Re-measure the shipped flow network's known-shift EPE (card vs now) and load it into a video model."""
    from vsrkit.models import build

    card = catalogue.shipped_card("spynet")
    measured = scoring.evaluate_entry("spynet")
    assert measured["epe_1_4"] == pytest.approx(card["scores"]["epe_1_4"], abs=1e-3) and measured["epe_1_4"] < 0.5
    model = catalogue.load_flow_init(build("basicvsr", "small"), "shipped:spynet")
    net = catalogue.load_spynet("shipped:spynet")
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in model.spynet.state_dict().items())
    assert catalogue.parameter_count("spynet") == 1_440_300


@pytest.mark.skipif("spynet" not in SHIPPED, reason="no shipped SpyNet")
def test_every_shipped_flow_network_follows_known_shifts():
    """Issue 18's bar: every shipped checkpoint's flow network follows 1-4 px shifts of carphone frame 0 (EPE < 0.5 px)."""
    from vsrkit.data.clips import Clip
    from vsrkit.data.samples import sample_clip
    from vsrkit.engine.flow_check import known_shift_epe, mean_epe, shipped_flow_networks
    from vsrkit.models.weights import tensor_sha256

    path = sample_clip("carphone")
    frame = Clip(path.stem, path).read([0])[0]
    # Most checkpoints carry the same frozen SpyNet: measure each distinct set of weights once (same weights, same EPE).
    by_weights: dict[str, float] = {}
    epe = {}
    for name, net in shipped_flow_networks():
        key = tensor_sha256(net)
        if key not in by_weights:
            by_weights[key] = mean_epe(known_shift_epe(net, frame))
        epe[name] = by_weights[key]
    assert {"spynet", "basicvsr", "basicvsr_real", "iacnn", "iart", "bvsr_ik"} <= set(epe)
    assert {n for n, e in epe.items() if e >= 0.5} == set(), epe
