"""Re-measure every shipped checkpoint's model-card scores from the shipped weights, and CPU speed.

    python benchmarks/shipped_scores.py                 # all entries: card vs re-measured, plus fps
    python benchmarks/shipped_scores.py --model basicvsr
    python benchmarks/shipped_scores.py --export basicvsr runs/ship_basicvsr/weights/latest.safetensors \
        --stage "configs/a.yaml: 400 it" --stage "configs/b.yaml: 1000 it from stage 1"

    python benchmarks/shipped_scores.py --test          # the declared test split (vsrkit/data/splits.py), per clip
    python benchmarks/shipped_scores.py --test --model basicvsr --json > test_scores.json
    python benchmarks/shipped_scores.py --test --write-cards   # also store the test scores in the shipped cards
    python benchmarks/shipped_scores.py --test --model basicvsr_real --compare basicvsr  # + the BI default, same LR

Card scores (default): clip entries on the validation clip carphone (first 30 frames; it chose the shipped models'
iterations, so it is not a test score) under their own protocol against MATLAB bicubic on the same LR; SR-INR on
its validation photos at x4/x2/x3.5/x8. fps = LR frames per second through the streaming engine at carphone's size
(176x144 -> x4) on this machine's CPU threads.

--test: every clip entry on each test clip (vtest, box, cup, tree, megamind; first 20 frames upscaled, frames 1-18 scored; never used for a
decision), each under the model's own protocol, against MATLAB bicubic and OpenCV Lanczos (INTER_LANCZOS4) on the
same LR: PSNR/SSIM RGB and Y per clip and the mean over clips. SR-INR on the test photos. The test clips need
Debian's opencv-doc (apt-get install opencv-doc).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch


def measure_fps(name: str, frames: int = 12) -> float | None:
    from vsrkit.models import catalogue
    from vsrkit.engine.infer import Upscaler
    from vsrkit.models import spec
    from vsrkit.models.weights import load_model

    entry = catalogue.SHIPPED[name]
    if entry.evaluation.get("kind") not in ("clip", "images"):  # MFDN, flow networks: not upscalers
        return None
    model = load_model(catalogue.shipped_path(name)).eval()
    lq = torch.rand(frames, 3, 144, 176)
    runner = Upscaler(model, spec(entry.method))
    runner.upscale_clip(lq[:2])  # warm-up
    start = time.perf_counter()
    runner.upscale_clip(lq)
    return frames / (time.perf_counter() - start)


def _flat(scores: dict) -> dict[str, float]:
    out = {}
    for group, vals in scores.items():
        if isinstance(vals, dict):
            for k, v in vals.items():
                out[f"{group}.{k}"] = v
        elif isinstance(vals, (int, float)):
            out[group] = vals
    return out


def main(argv: list[str] | None = None) -> int:
    from vsrkit.engine import scoring
    from vsrkit.models import catalogue

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", help="catalogue entry (repeatable); default: all")
    ap.add_argument("--export", nargs=2, metavar=("NAME", "WEIGHTS"), help="write the shipped file of NAME")
    ap.add_argument("--stage", action="append", default=[], metavar="TEXT",
                    help="with --export: one training stage that led to WEIGHTS, oldest first (config, iterations, "
                         "init), recorded in the card as training.stages (repeatable)")
    ap.add_argument("--test", action="store_true", help="score the declared test split instead of the card's clip")
    ap.add_argument("--frames", type=int, help="with --test: frames per test clip (default: the split's)")
    ap.add_argument("--compare", action="append", default=[], metavar="NAME",
                    help="with --test: also score shipped entry NAME on the same LR (repeatable)")
    ap.add_argument("--write-cards", action="store_true",
                    help="with --test: re-export each shipped file with its test scores in the card (test_scores)")
    ap.add_argument("--photos", metavar="FOLDER",
                    help="with --export: a `vsrkit prepare-photos` folder the weights trained on; its packages and "
                         "licences go into the card (training.sources)")
    ap.add_argument("--no-fps", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    if args.export:
        name, src = args.export
        from vsrkit.models.weights import read_card

        src_card = read_card(src)
        entry = catalogue.SHIPPED[name]
        training = {"data": entry.trained_on, "protocol": src_card.get("protocol"),
                    "iterations": src_card.get("iterations"), "config": entry.config,
                    "hardware": scoring.hardware_summary(), "init_weights": src_card.get("init_weights"),
                    "init_flow": src_card.get("init_flow")}
        if args.stage:
            training["stages"] = args.stage
        if args.photos:
            from vsrkit.data.wallpapers import licence_summary

            training["sources"] = licence_summary(args.photos)
        card = scoring.export(name, src, training=training)
        print(json.dumps({"name": name, "storage": card["storage"], "scores": card["scores"]}, indent=2))
        return 0

    names = args.model or list(catalogue.SHIPPED)
    if args.test:
        return _report_test(names, args)
    report = {}
    for name in names:
        card = catalogue.shipped_card(name)
        if not card:
            print(f"{name}: not shipped", file=sys.stderr)
            continue
        start = time.perf_counter()
        measured = scoring.evaluate_entry(name)
        row = {"card": card.get("scores", {}), "measured": measured, "seconds": round(time.perf_counter() - start, 1)}
        if not args.no_fps:
            row["cpu_fps"] = measure_fps(name)
        report[name] = row
        if not args.json:
            c, m = _flat(row["card"]), _flat(measured)
            worst = max((abs(c[k] - m[k]) for k in m if k in c and ("psnr" in k or "epe" in k)), default=0.0)
            fps = row.get("cpu_fps")
            print(f"== {name} ({card.get('method')} {card.get('variant')}, {card.get('storage')}): max |card - measured| "
                  f"PSNR {worst:.4f} dB" + (f", CPU {fps:.2f} fps at 176x144 LR" if fps else ""))
            for k in m:
                if "psnr" in k or "epe" in k:
                    print(f"   {k:<26} card {c.get(k, float('nan')):8.4f}   measured {m[k]:8.4f}")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def _report_test(names: list[str], args: argparse.Namespace) -> int:
    from vsrkit.engine import scoring
    from vsrkit.models import catalogue

    report = {}
    for name in names:
        entry = catalogue.SHIPPED[name]
        if entry.evaluation.get("kind") not in ("clip", "images") or catalogue.shipped_path(name) is None:
            continue  # flow networks have their own check (flow_known_shift.py); unshipped entries have no file
        start = time.perf_counter()
        scores = scoring.score_test_split(name, frames=args.frames, compare=tuple(args.compare))
        scores["seconds"] = round(time.perf_counter() - start, 1)
        report[name] = scores
        if args.write_cards:
            card = catalogue.shipped_card(name)
            scoring.export(name, catalogue.shipped_path(name), training=card.get("training", {}),
                           extra={"test_scores": scores})
        if not args.json:
            print(_format_test(name, scores), flush=True)
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


def _format_test(name: str, scores: dict) -> str:
    ev = _evaluation(name)
    lines = [f"== {name} on the test split, protocol {json.dumps(ev.get('protocol'))} x{ev.get('scale')} "
             f"({scores['split']}) [{scores['seconds']} s]"]
    if "images" in scores:
        for scale, row in scores["images"].items():
            lines.append(f"   {scale:<6} " + "  ".join(f"{k} {v:.2f}" for k, v in row.items()))
        return "\n".join(lines)
    methods = list(scores["mean"])
    against = ["bicubic", "lanczos", *(m for m in methods if m not in ("model", "adapted", "bicubic", "lanczos"))]
    lines.append("   | clip | " + " | ".join(f"{m} PSNR RGB / Y dB (SSIM RGB / Y)" for m in methods)
                 + " | " + " | ".join(f"model - {m} Y" for m in against) + " |")
    lines.append("   |---" * (len(methods) + len(against) + 1) + "|")
    best = "adapted" if "adapted" in methods else "model"
    for clip, row in [*scores["clips"].items(), ("**mean**", scores["mean"])]:
        cells = [f"{row[m]['psnr_rgb']:.2f} / {row[m]['psnr_y']:.2f} ({row[m]['ssim_rgb']:.4f} / "
                 f"{row[m]['ssim_y']:.4f})" for m in methods]
        lines.append(f"   | {clip} | " + " | ".join(cells) + " | "
                     + " | ".join(f"{row[best]['psnr_y'] - row[m]['psnr_y']:+.2f}" for m in against) + " |")
    return "\n".join(lines)


def _evaluation(name: str) -> dict:
    from vsrkit.models import catalogue

    return catalogue.SHIPPED[name].evaluation


if __name__ == "__main__":
    raise SystemExit(main())
