"""The ``vsrkit`` command line: argument parsing and one-line errors, nothing else.

Every command's work lives in the library (engine, degrade, metrics, models); this module only translates
arguments and prints results. Problems a user can fix raise :class:`~vsrkit.errors.VsrkitError`, printed as
``vsrkit: error: <what is wrong>: <how to fix it>`` with exit status 2.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from functools import partial
from pathlib import Path
from typing import Callable

from vsrkit import interrupt
from vsrkit.errors import VsrkitError


# ----------------------------------------------------------------------------------------------------------------
# upscale
# ----------------------------------------------------------------------------------------------------------------
def _add_upscale(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "upscale",
        help="upscale a video, frame folder, image or image folder (streamed, bounded memory)",
        description="Upscale INPUT (any video PyAV opens, a PNG/JPG frame folder, or sample:NAME for a bundled "
        "clip) into OUTPUT (a video by its suffix, else a PNG frame folder); a single image gives one PNG (OUTPUT "
        "ending in .png) and a folder of images of different sizes one <name>.png per image. Audio and subtitles are copied; "
        "fps and timestamps are kept; OUTPUT appears only when complete.",
    )
    p.add_argument("input", nargs="+", help="video file, frame folder, or sample:bikes / sample:carphone / "
                   "sample:bigbuckbunny; several inputs, folders of videos or quoted globs make a batch into -o DIR/")
    p.add_argument("-o", "--output", required=True,
                   help="output video (.mp4/.mkv/...) or frame folder; for a batch, a folder (one file per input)")
    p.add_argument("--ext", default=".mp4", help="batch: output container of each video (default .mp4)")
    p.add_argument("--json", action="store_true", help="batch: print the summary as one JSON object")
    p.add_argument("-m", "--model", default=None,
                   help="model name (see `vsrkit models`); default: the shipped general model (x4, sharp input)")
    p.add_argument("--blurry", action="store_true",
                   help="the input is blurry (motion/defocus): use the shipped deblurring model (FMA-Net, x4)")
    p.add_argument("--real", action="store_true",
                   help="real-world footage (compressed, noisy): use the shipped real-world model (x4)")
    p.add_argument("--variant", default=None, help="model variant (see `vsrkit models`)")
    p.add_argument("--weights", default=None,
                   help="a .safetensors file written by vsrkit (train/convert); default: the shipped weights")
    p.add_argument("--untrained", action="store_true",
                   help="run randomly initialised weights (smoke tests and speed measurements only)")
    p.add_argument("--scale", type=float, default=None,
                   help="upscaling factor: any real value for arbitrary-scale models (e.g. 3.5 with -m srinr), "
                   "else an integer checked against the model; output size = round(scale x input)")
    p.add_argument("--chunk", type=int, default=None,
                   help="frames per temporal chunk; default: recurrent chunks as long as --max-memory allows, 16 "
                   "frames per batch otherwise")
    p.add_argument("--max-memory", default=None, metavar="SIZE",
                   help="memory for a recurrent chunk's activations, e.g. 2G (default: half the available memory, "
                   "at most 8G)")
    p.add_argument("--chunk-overlap", type=int, default=4, help="context frames each side of a chunk, discarded")
    p.add_argument("--tile", type=int, default=None, help="LR tile size in pixels (memory lever); default: off")
    p.add_argument("--tile-overlap", type=int, default=16, help="LR context pixels around each tile")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default="auto",
                   help="auto (default): the fastest setting measured to stay within 0.05 dB of fp32 for this model "
                   "on this kind of hardware (fp32 when unmeasured); fp32 is exact")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("-c", "--codec", default=None,
                   help="video encoder (libx264, libx265, ffv1, ...); default: the output container's (H.264 for "
                   ".mp4/.mkv/.mov, VP9 for .webm; HEVC for HDR sources)")
    p.add_argument("--crf", type=int, default=18, help="constant rate factor for x264/x265 (lower = better)")
    p.add_argument("--preset", default="medium", help="encoder preset")
    p.add_argument("--pix-fmt", default=None,
                   help="output pixel format (yuv420p, yuv444p, yuv420p10le, ...); default: the source's chroma and "
                   "bit depth")
    p.add_argument("--no-audio", action="store_true", help="do not copy audio/subtitle streams")
    p.add_argument("--overwrite", action="store_true", help="replace OUTPUT if it exists")
    p.add_argument("--save-aux", default=None, metavar="DIR",
                   help="also write pictures of what the model estimated (flows, masks, kernels) into DIR")
    p.add_argument("--aux-frames", default=None, metavar="LIST",
                   help="comma-separated frame numbers for --save-aux (default: every frame)")
    p.add_argument("--adapt", choices=["dynavsr"], default=None,
                   help="test-time adaptation of the backbone to the input (DynaVSR; needs --mfdn)")
    p.add_argument("--mfdn", default=None, help="MFDN weights for --adapt dynavsr (vsrkit convert mfdn ...)")
    p.add_argument("--adapt-steps", type=int, default=1, help="adaptation steps per chunk (default 1)")
    p.add_argument("--adapt-lr", type=float, default=None,
                   help="adaptation learning rate (default: what the shipped backbone was meta-trained for, 1e-4; "
                   "official weights: 1e-5)")
    p.add_argument("--allow-truncated", action="store_true",
                   help="upscale the frames a truncated input still decodes (default: refuse, never drop silently)")
    p.add_argument("--start", type=_seconds, default=None, metavar="TIME",
                   help="preview: start at TIME (seconds, MM:SS or HH:MM:SS); frames equal those of a full run")
    p.add_argument("--duration", type=_seconds, default=None, metavar="TIME", help="preview: only TIME long")
    p.add_argument("--max-frames", type=int, default=None, metavar="N", help="preview: at most N frames")
    p.add_argument("--deinterlace", action="store_true",
                   help="deinterlace interlaced input (FFmpeg yadif, one frame per frame) instead of refusing it")
    p.add_argument("--compare", default=None, metavar="PICTURE",
                   help="also write PICTURE (.png/.jpg): the first output frame beside its input")
    p.add_argument("--segment", type=int, default=None, metavar="N",
                   help="resumable: process in segments of N frames (rounded up to --chunk) kept losslessly in a "
                   "work folder beside OUTPUT; re-running the same command after a kill resumes (video outputs)")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="spread the segments over a Ray cluster: ADDRESS of a running one (auto, ray://HOST:10001) "
                   "or none for a new local one; implies --segment 64 unless given (needs vsrkit[ray])")
    p.add_argument("--workers", type=int, default=None, help="--ray: number of model actors (default: fill the CPUs)")
    p.add_argument("--cpus-per-worker", type=float, default=1, help="--ray: CPUs reserved by each actor")
    p.add_argument("--gpus-per-worker", type=float, default=0, help="--ray: GPUs reserved by each actor")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_upscale)


def _seconds(text: str) -> float:
    """``12.5``, ``1:05`` or ``0:01:05.5`` → seconds (argparse type)."""
    try:
        value = 0.0
        for part in text.split(":"):
            value = value * 60 + float(part)
        return value
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a time: use seconds (12.5), MM:SS or HH:MM:SS") from None


def _upscale_batch(args: argparse.Namespace, run: Callable) -> int:
    from vsrkit.engine.batch import batch_summary, expand_inputs, format_batch_table, plan_outputs, upscale_batch

    items = plan_outputs(expand_inputs(args.input), Path(args.output), args.ext)

    def report(item) -> None:
        if item.error:
            print(f"vsrkit: error: {item.input}: {item.error}", file=sys.stderr)

    upscale_batch(items, run, overwrite=args.overwrite, progress=not args.quiet, on_item=report)
    summary = batch_summary(items)
    print(json.dumps(summary) if args.json else format_batch_table(items))
    return 1 if summary["failed"] else 0


def _parse_frame_list(text: str | None) -> frozenset[int] | None:
    if text is None:
        return None
    try:
        frames = frozenset(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise VsrkitError(f"--aux-frames {text!r} is not a comma-separated list of frame numbers: e.g. 0,10,20") from None
    if not frames or min(frames) < 0:
        raise VsrkitError(f"--aux-frames {text!r} needs frame numbers >= 0: e.g. 0,10,20")
    return frames


def _cmd_upscale(args: argparse.Namespace) -> int:
    from vsrkit.data.samples import resolve_input
    from vsrkit.engine.fastpath import parse_memory
    from vsrkit.engine.infer import InferenceOptions
    from vsrkit.engine.model_choice import choose_model
    from vsrkit.engine.upscale import EncodeOptions, resolve_model, upscale_video

    from vsrkit.engine.batch import is_batch

    batch = is_batch(args.input, args.output)
    src = None if batch else resolve_input(args.input[0])
    name, args.weights = choose_model(args.model, args.weights, blurry=args.blurry, real=args.real, scale=args.scale)
    model, model_spec = resolve_model(name, variant=args.variant, weights=args.weights, scale=args.scale,
                                      untrained=args.untrained)
    adapter = None
    if args.adapt == "dynavsr":
        from vsrkit.engine.adapt import AdaptingBackbone
        from vsrkit.engine.dynavsr_eval import adaptation_inputs

        mfdn, args.adapt_lr = adaptation_inputs(model_spec.name, mfdn=args.mfdn, lr=args.adapt_lr,
                                                weights=args.weights, flag="--adapt dynavsr")
        model = adapter = AdaptingBackbone(model, model_spec, mfdn, steps=args.adapt_steps, lr=args.adapt_lr)
    elif args.mfdn:
        raise VsrkitError("--mfdn only applies with --adapt dynavsr: add it or drop --mfdn")
    options = InferenceOptions(
        chunk=args.chunk,
        chunk_overlap=args.chunk_overlap,
        max_memory=parse_memory(args.max_memory) if args.max_memory else None,
        tile=args.tile,
        tile_overlap=args.tile_overlap,
        precision=args.precision,
        device=args.device,
        save_aux=args.save_aux,
        aux_frames=_parse_frame_list(args.aux_frames),
    )
    encode = EncodeOptions(
        codec=args.codec, crf=args.crf, preset=args.preset, pix_fmt=args.pix_fmt, copy_streams=not args.no_audio
    )
    preview = {"start": args.start, "duration": args.duration, "max_frames": args.max_frames,
               "deinterlace": args.deinterlace, "compare": args.compare}
    run = partial(upscale_video, **preview)
    executor = contextlib.nullcontext()
    if args.segment is not None or args.ray is not None:
        used = [f"--{k.replace('_', '-')}" for k, v in preview.items() if v not in (None, False)]
        if used:
            raise VsrkitError(f"{', '.join(used)} apply to one plain run: drop them or drop --segment/--ray")
    if batch and args.compare:
        raise VsrkitError("--compare writes one picture: use it with a single input, not a batch")
    if args.ray is not None:
        from vsrkit.engine.ray_segments import RaySegments

        args.segment = args.segment or 64
        executor = RaySegments(model, model_spec, options, address=None if args.ray == "local" else args.ray,
                               workers=args.workers, cpus_per_worker=args.cpus_per_worker,
                               gpus_per_worker=args.gpus_per_worker)
    if args.segment is not None:
        from vsrkit.engine.segments import upscale_resumable

        run = partial(upscale_resumable, segment=args.segment, executor=executor if args.ray else None)
    run = partial(run, model=model, model_spec=model_spec, options=options, encode=encode, overwrite=args.overwrite,
                  allow_truncated=args.allow_truncated)
    with executor:
        if batch:
            return _upscale_batch(args, run)
        stats = run(src, args.output, progress=not args.quiet)
    if stats.extra.get("segments_reused"):
        print(f"resumed: reused {stats.extra['segments_reused']} finished segments")
    weights = args.weights or ("shipped" if model_spec.name != "bicubic" and not args.untrained else None)
    print(f"wrote {args.output}: {stats.frames} frames in {stats.seconds:.1f} s ({stats.fps:.2f} fps, "
          f"model {stats.model_seconds:.1f} s, waiting on I/O {100 * stats.io_wait_fraction:.0f}%"
          + (f"; {stats.extra['fast_path']}" if "fast_path" in stats.extra else "") + ") with "
          f"{model_spec.name}" + (f" ({weights} weights)" if weights else "") + (" untrained" if args.untrained else ""))
    if args.compare:
        print(f"wrote {args.compare}: first output frame beside its input")
    if adapter is not None:
        print(f"test-time adaptation: {adapter.stats['calls']} chunks, {adapter.stats['adapt_seconds']:.1f} s "
              f"adapting ({args.adapt_steps} step(s) each, lr {args.adapt_lr:g})")
    return 0


# ----------------------------------------------------------------------------------------------------------------
# degrade
# ----------------------------------------------------------------------------------------------------------------
def _add_degrade(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "degrade",
        help="make low-resolution frames with a paper's degradation protocol",
        description="Degrade INPUT (video, frame folder or sample:NAME) into OUTPUT (frame folder, or a video by "
        "suffix) with a named protocol. The per-frame kernels and parameters are saved beside OUTPUT as "
        "OUTPUT.kernels.npy and OUTPUT.degradation.json. The whole clip is held in memory (protocols such as "
        "'mixed' and 'blur-avg' need it).",
    )
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("-p", "--protocol", required=True, help="bi, bd, bd-duf, gauss, aniso, realistic, mixed, "
                   "blur-avg, bvsrik-gaussian, dynavsr-iso, dynavsr-aniso, compressed (see vsrkit.degrade), with "
                   "options as NAME:KEY=VALUE,... (e.g. dynavsr-iso:sigma=1.6)")
    p.add_argument("--protocol-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="one protocol option (repeatable), e.g. --protocol-opt sigma=1.6")
    p.add_argument("--scale", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.0, help="additive Gaussian noise sigma (0-255 units)")
    p.add_argument("--max-frames", type=int, default=None, help="only the first N frames")
    p.add_argument("--save-hr", default=None, metavar="GT",
                   help="also write the matching ground truth (mod-cropped HR frames) here, for `vsrkit eval --gt`")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_degrade)


def _cmd_degrade(args: argparse.Namespace) -> int:
    from vsrkit.data.samples import resolve_input
    from vsrkit.degrade import with_options
    from vsrkit.engine.degrade_files import degrade_path

    summary = degrade_path(
        resolve_input(args.input), Path(args.output), protocol=with_options(args.protocol, args.protocol_opt),
        scale=args.scale, seed=args.seed,
        noise=args.noise, max_frames=args.max_frames, overwrite=args.overwrite,
        save_hr=Path(args.save_hr) if args.save_hr else None,
    )
    print(summary)
    return 0


# ----------------------------------------------------------------------------------------------------------------
# eval
# ----------------------------------------------------------------------------------------------------------------
def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="PSNR/SSIM (RGB and Y) and tOF between predicted and ground-truth frame folders",
        description="Compare two frame folders, or two folders of clip sub-folders matched by name.",
    )
    p.add_argument("--pred", required=True)
    p.add_argument("--gt", required=True)
    p.add_argument("--crop-border", type=int, default=0)
    p.add_argument("--y", action="store_true", help="headline numbers on Y (BT.601); RGB is always reported too")
    p.add_argument("--tof", action="store_true", help="also compute tOF (Farneback temporal flow error)")
    p.add_argument("--protocol", default=None, help="a named evaluation protocol (overrides crop/y/tof)")
    p.add_argument("--niqe", action="store_true",
                   help="also NIQE of the predictions (no reference, lower is better; ~1 s per 512x512 frame)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_eval)


def _cmd_eval(args: argparse.Namespace) -> int:
    from vsrkit.metrics import evaluate_folders, format_table

    result = evaluate_folders(
        args.pred, args.gt, crop_border=args.crop_border, y_only=args.y, tof=args.tof, protocol=args.protocol,
        niqe=args.niqe,
    )
    print(json.dumps(result, allow_nan=False) if args.json else format_table(result))
    return 0


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="picture of one frame: LR / bicubic / model / GT crops side by side, PSNR in the captions",
        description="Read frame --frame of LR, PRED and GT (videos or frame folders, e.g. from `vsrkit degrade "
        "--save-hr` and `vsrkit upscale`) and write OUTPUT (.png/.jpg/.webp/.tif): the LR crop enlarged by pixel "
        "replication, MATLAB bicubic, the prediction and the ground truth, with RGB PSNR of the whole frame.",
    )
    p.add_argument("--lr", required=True, help="the low-resolution input the prediction was made from")
    p.add_argument("--pred", required=True, help="the model's output")
    p.add_argument("--gt", required=True, help="the ground truth")
    p.add_argument("-o", "--output", required=True, help="picture to write (.png, .jpg, .webp, .tif)")
    p.add_argument("--frame", type=int, default=0, help="frame number (0-based; default 0)")
    p.add_argument("--crop", default=None, metavar="X,Y,SIZE",
                   help="square region in HR pixels (default: centred, side min(H, W, 192))")
    p.add_argument("--label", default="model", help="caption of the prediction (e.g. the model's name)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_compare)


def _cmd_compare(args: argparse.Namespace) -> int:
    from vsrkit.engine.compare import compare_picture

    crop = None
    if args.crop:
        try:
            crop = tuple(int(v) for v in args.crop.split(","))
        except ValueError:
            crop = ()
        if len(crop) != 3:
            raise VsrkitError(f"--crop {args.crop!r} is not X,Y,SIZE: e.g. --crop 100,40,128")
    r = compare_picture(args.lr, args.pred, args.gt, args.output, frame=args.frame, crop=crop, label=args.label,
                        overwrite=args.overwrite)
    scores = ", ".join(f"{k} {v:.2f} dB" for k, v in r["psnr_rgb"].items())
    print(f"wrote {args.output}: frame {r['frame']}, x{r['scale']}, crop {r['crop']}; PSNR RGB {scores}")
    return 0


# ----------------------------------------------------------------------------------------------------------------
# models
# ----------------------------------------------------------------------------------------------------------------
def _add_models(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list registered models, variants and parameter counts")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_models)


def _cmd_models(args: argparse.Namespace) -> int:
    from vsrkit.models.catalogue import model_table, shipped_table

    rows = model_table()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'model':<12} {'status':<12} {'scale':<6} {'temporal':<10} variants (parameters)")
    for r in rows:
        scales = r["variant_scales"]
        variants = ", ".join(f"{v}{'*' if v == r['upscale_variant'] else ''} ({n:,}"
                             f"{f', x{scales[v]}' if '/' in str(r['scale']) else ''})" for v, n in r["variants"].items())
        print(f"{r['name']:<12} {r['status']:<12} {str(r['scale']):<6} {r['temporal']:<10} {variants}")
    print("* the variant `vsrkit upscale -m NAME` runs: its shipped checkpoint's, else the registry default")
    shipped = shipped_table()
    if shipped:
        print("\nshipped checkpoints (held-out scores; `vsrkit upscale -m NAME` uses them):")
        print(f"{'name':<9} {'variant':<15} {'params':>9}  {'held-out protocol':<34} {'PSNR-Y':>7} {'bicubic':>7}  role")
        for r in shipped:
            fmt = (lambda v: f"{v:7.2f}" if v is not None else f"{'-':>7}")
            print(f"{r['name']:<9} {r['variant']:<15} {r['params']:>9,}  {r['protocol']:<34} {fmt(r['psnr_y'])} "
                  f"{fmt(r['bicubic_psnr_y'])}  {r['role']}")
    return 0


# ----------------------------------------------------------------------------------------------------------------
# train
# ----------------------------------------------------------------------------------------------------------------
def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train a model from a YAML config (one process, or torchrun --nproc_per_node=N -m vsrkit train)",
        description="Train from CONFIG (see configs/). Checkpoints are atomic; --resume auto continues after a kill "
        "from the last complete one with identical results on CPU.",
    )
    p.add_argument("config")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config entry, e.g. --set train.total_iter=1000 (repeatable)")
    p.add_argument("--resume", default=None, help="auto (latest state in --out) or a state file")
    p.add_argument("--out", default=None, help="run folder (default: runs/<config name>)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from vsrkit.engine.recipes import load_config
    from vsrkit.engine.train import train

    from vsrkit.io.outputs import check_apart_from_inputs, check_run_folder

    cfg = load_config(args.config, args.overrides)
    out = Path(args.out) if args.out else Path("runs") / str(cfg.get("name") or Path(args.config).stem)
    datasets = (cfg.get("datasets") or {}).values()
    check_apart_from_inputs(out, [args.config, *(p for d in datasets if isinstance(d, dict) for p in _dataset_paths(d))])
    check_run_folder(out)
    summary = train(cfg, out, resume=args.resume, progress=not args.quiet)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"trained {summary['iter']} iterations into {out}; weights: {out / 'weights' / 'latest.safetensors'}")
    return 0


def _dataset_paths(section: dict) -> list[str]:  # kept for _cmd_train; the library's dataset_paths
    from vsrkit.engine.evaluate import dataset_paths

    return dataset_paths(section)


# ----------------------------------------------------------------------------------------------------------------
# eval-model
# ----------------------------------------------------------------------------------------------------------------
def _add_eval_model(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval-model",
        help="run a model over a dataset with a degradation protocol and print the paper-style table",
        description="MODEL is a model name or a training config (its datasets.val section is the default "
        "dataset). The dataset is a folder/video (--dataset PATH), a sample clip (sample:NAME), or a "
        "standard layout (--layout reds|vid4|udm10|vimeo90k|gopro with --dataset ROOT).",
    )
    p.add_argument("model", help="model name (see `vsrkit models`) or a YAML config")
    p.add_argument("--weights", default=None, help="vsrkit .safetensors weights (default: the shipped ones)")
    p.add_argument("--variant", default=None)
    p.add_argument("--dataset", default=None, help="dataset root, clip folder, video, or sample:NAME")
    p.add_argument("--layout", default="folder",
                   help="folder (default), reds, vid4, udm10, vimeo90k, gopro, or images (--dataset: an image folder "
                   "or comma-separated files / skimage:NAME photos; LR by MATLAB bicubic at --scale)")
    p.add_argument("--lr", default=None, help="pre-made LR folder name or path (e.g. BIx4); else degrade on the fly")
    p.add_argument("--degradation", default="bi", help="protocol applied on the fly when no LR is given, with "
                   "options as NAME:KEY=VALUE,... (e.g. dynavsr-iso:sigma=1.6; see `vsrkit degrade -p`)")
    p.add_argument("--protocol-opt", action="append", default=[], metavar="KEY=VALUE",
                   help="one option of --degradation (repeatable), e.g. --protocol-opt sigma=1.6")
    p.add_argument("--protocol", default=None, help="named evaluation protocol (crop, channel, frames, average)")
    p.add_argument("--crop-border", type=int, default=0)
    p.add_argument("--max-frames", type=int, default=None)
    p.add_argument("--scale", type=float, default=4,
                   help="integer for video datasets; any real value with --layout images and an arbitrary-scale model")
    p.add_argument("--chunk", type=int, default=1000, help="frames per chunk (default: whole clips, as papers do)")
    p.add_argument("--chunk-overlap", type=int, default=0)
    p.add_argument("--tile", type=int, default=None)
    p.add_argument("--device", default="auto")
    p.add_argument("--save", default=None, help="also write the outputs as PNG folders here")
    p.add_argument("--overwrite", action="store_true", help="replace the --save folder (one vsrkit wrote)")
    p.add_argument("--dynavsr", choices=["all", "iso", "aniso", "mixed"], default=None,
                   help="DynaVSR's test protocols on the dataset's HR clips (isotropic sigma 0.8-1.6 sweep, "
                   "anisotropic (0.8, 1.6) at 4 rotations, mixed random kernels): baseline vs adapted RGB PSNR")
    p.add_argument("--mfdn", default=None, help="MFDN weights for --dynavsr (default: the shipped one)")
    p.add_argument("--adapt-steps", type=int, default=1)
    p.add_argument("--adapt-lr", type=float, default=None, help="default: the shipped backbone's, else 1e-5")
    p.add_argument("--adapt-per", choices=["clip", "window"], default="clip",
                   help="adapt once per clip, or per output window (the official protocol; window models)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_eval_model)


def _cmd_eval_model(args: argparse.Namespace) -> int:
    from vsrkit.engine.evaluate import dataset_paths, eval_build_scale, eval_dataset, eval_section, evaluate_model
    from vsrkit.engine.infer import InferenceOptions
    from vsrkit.engine.upscale import resolve_model
    from vsrkit.metrics import format_table

    name, section = eval_section(args.model, dataset=args.dataset, layout=args.layout, scale=args.scale,
                                 degradation=args.degradation, protocol_opts=args.protocol_opt, lr=args.lr,
                                 max_frames=args.max_frames)
    model, model_spec = resolve_model(name, variant=args.variant, weights=args.weights,
                                      scale=eval_build_scale(name, args.scale))
    options = InferenceOptions(chunk=args.chunk, chunk_overlap=args.chunk_overlap, tile=args.tile, device=args.device)
    if args.dynavsr:
        return _print_dynavsr(args, model, model_spec, section, options)
    result = evaluate_model(model, model_spec, eval_dataset(section, args.scale), protocol=args.protocol,
                            options=options, save_dir=args.save, inputs=[args.dataset, args.lr, *dataset_paths(section)],
                            overwrite=args.overwrite, **({} if args.protocol else {"crop_border": args.crop_border}))
    print(json.dumps(result, allow_nan=False) if args.json else format_table(result))
    return 0


def _print_dynavsr(args: argparse.Namespace, model, model_spec, section: dict, options) -> int:
    """``eval-model --dynavsr``: every clip's HR frames under DynaVSR's test protocols, unadapted vs adapted."""
    from vsrkit.engine.adapt import format_adaptation_rows
    from vsrkit.engine.dynavsr_eval import adaptation_inputs, dynavsr_summary, evaluate_dynavsr

    mfdn, lr = adaptation_inputs(model_spec.name, mfdn=args.mfdn, lr=args.adapt_lr, weights=args.weights,
                                 flag="--dynavsr")
    rows = evaluate_dynavsr(model, model_spec, mfdn, section, families=args.dynavsr, steps=args.adapt_steps, lr=lr,
                            per=args.adapt_per, options=options)
    if args.json:
        print(json.dumps(rows, allow_nan=False))
        return 0
    print(format_adaptation_rows(rows))
    print(dynavsr_summary(rows, steps=args.adapt_steps, lr=lr, per=args.adapt_per))
    return 0


# ----------------------------------------------------------------------------------------------------------------
# convert
# ----------------------------------------------------------------------------------------------------------------
def _add_convert(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert an official checkpoint (.pth) into vsrkit safetensors with a model card",
        description="Explicit key tables, strict loading; every renamed or dropped key is reported.",
    )
    p.add_argument("method", help="official method name, e.g. basicvsr, spynet")
    p.add_argument("checkpoint", help="the official .pth/.safetensors file")
    p.add_argument("-o", "--output", required=True, help="output .safetensors")
    p.add_argument("--official-args", default=None, metavar="JSON",
                   help='official constructor arguments when not the paper size, e.g. \'{"num_feat": 32}\'')
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_convert)


def _cmd_convert(args: argparse.Namespace) -> int:
    from vsrkit.convert import convert_file

    from vsrkit.io.outputs import check_output

    out = check_output(args.output, inputs=[args.checkpoint], overwrite=args.overwrite, kind="file")
    try:
        official_args = json.loads(args.official_args) if args.official_args else None
    except json.JSONDecodeError as exc:
        raise VsrkitError(f"--official-args is not valid JSON ({exc.msg}): e.g. '{{\"num_feat\": 32}}'") from None
    card = convert_file(args.method, args.checkpoint, out, official_args)
    report = card.get("conversion", {})
    print(f"wrote {out}: {card['method']} ({card.get('variant') or 'custom size'}); "
          f"{len(report.get('renamed', {}))} keys renamed, dropped {report.get('dropped') or 'none'}, "
          f"added {report.get('added') or 'none'}")
    for old, new in sorted(report.get("renamed", {}).items())[:20]:
        print(f"  {old} -> {new}")
    return 0


# ----------------------------------------------------------------------------------------------------------------
# prepare-photos
# ----------------------------------------------------------------------------------------------------------------
def _add_prepare_photos(sub: argparse._SubParsersAction) -> None:
    from vsrkit.data.wallpapers import DEFAULT_PACKAGES

    p = sub.add_parser(
        "prepare-photos",
        help="copy the photos of installed wallpaper packages into a training folder with a licence manifest",
        description="Nothing is downloaded: install the packages first (sudo apt-get install "
                    f"{' '.join(DEFAULT_PACKAGES)}). Writes OUT/manifest.json (package, licence, train/val split).",
    )
    p.add_argument("output", help="folder to create")
    p.add_argument("--packages", nargs="+", default=list(DEFAULT_PACKAGES), help="Debian packages to read")
    p.add_argument("--overwrite", action="store_true", help="replace a folder this command wrote before")
    p.set_defaults(func=_cmd_prepare_photos)


def _cmd_prepare_photos(args: argparse.Namespace) -> int:
    from collections import Counter

    from vsrkit.data.wallpapers import prepare_photo_folder

    manifest = prepare_photo_folder(args.output, args.packages, overwrite=args.overwrite)
    photos = manifest["photos"]
    splits = Counter(e["split"] for e in photos)
    print(f"wrote {len(photos)} photos to {args.output} ({splits['train']} train, {splits['val']} val); "
          f"licences: {dict(Counter(e['license'] for e in photos))}"
          + (f"; not installed: {', '.join(manifest['missing'])}" if manifest["missing"] else ""))
    return 0


# ----------------------------------------------------------------------------------------------------------------
# bench
# ----------------------------------------------------------------------------------------------------------------
def _add_bench(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed of a model here: GMAC/frame, s/frame, fraction of peak, PSNR vs fp32",
                       description="Time MODEL on real frames in each precision and memory layout, against this "
                       "machine's peak measured in the same run, then one end-to-end upscale (decode, model, "
                       "encode) with the default settings.")
    p.add_argument("model", nargs="?", default=None, help="registered model (default: the shipped default model)")
    p.add_argument("--variant", default=None)
    p.add_argument("--weights", default=None, help="a vsrkit .safetensors file (default: the shipped weights)")
    p.add_argument("--untrained", action="store_true", help="random weights (any variant, no shipped file needed)")
    p.add_argument("--size", default="320x180", help="LR frame size WxH (default 320x180)")
    p.add_argument("--frames", type=int, default=8, help="LR frames per timed forward (default 8)")
    p.add_argument("--precision", default="fp32,auto", help="comma-separated: auto, fp32, bf16, fp16 (GPU)")
    p.add_argument("--layout", choices=["nchw", "nhwc", "both"], default="both",
                   help="memory layout for the explicit precisions (default both)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3, help="timed forwards; the median is reported")
    p.add_argument("--no-engine", action="store_true", help="skip the end-to-end decode/model/encode run")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_bench)


def _cmd_bench(args: argparse.Namespace) -> int:
    from vsrkit.engine.bench import as_dicts, format_rows, run_bench

    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise VsrkitError(f"--size {args.size!r} is not WxH: e.g. --size 320x180") from None
    layouts = {"nchw": [False], "nhwc": [True], "both": [False, True]}[args.layout]
    rows, engine = run_bench(args.model, variant=args.variant, weights=args.weights, untrained=args.untrained,
                             width=width, height=height, frames=args.frames, device=args.device,
                             precisions=[p.strip() for p in args.precision.split(",") if p.strip()],
                             layouts=layouts, warmup=args.warmup, repeats=args.repeats, engine=not args.no_engine)
    if args.json:
        print(json.dumps({"model": as_dicts(rows), "engine": as_dicts(engine)}, indent=2))
    else:
        print(format_rows(rows, engine))
    return 0


# ----------------------------------------------------------------------------------------------------------------
# export
# ----------------------------------------------------------------------------------------------------------------
def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a model to ONNX (fixed shape) and check it against PyTorch with onnxruntime",
        description="Write MODEL as an ONNX graph taking (1, T, 3, H, W) RGB in [0, 1]: T = 1 for frame models, the "
        "window for window models, --frames for recurrent models (run it on overlapping chunks). Needs vsrkit[onnx].",
    )
    p.add_argument("model", help="model name (see `vsrkit models`); default weights: the shipped ones")
    p.add_argument("-o", "--output", required=True, help="output .onnx file")
    p.add_argument("--weights", default=None, help="a vsrkit .safetensors file instead of the shipped weights")
    p.add_argument("--variant", default=None)
    p.add_argument("--untrained", action="store_true", help="random weights (export checks only)")
    p.add_argument("--size", default="64x64", metavar="HxW", help="LR input height x width (default 64x64)")
    p.add_argument("--frames", type=int, default=None, help="recurrent models: frames per call (default 8)")
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--no-check", action="store_true", help="skip the onnxruntime parity check")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_export)


def _cmd_export(args: argparse.Namespace) -> int:
    from vsrkit.engine.export import check_parity, export_onnx
    from vsrkit.engine.upscale import resolve_model

    try:
        height, width = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        raise VsrkitError(f"--size {args.size!r} is not HxW: e.g. --size 64x64") from None
    model, model_spec = resolve_model(args.model, variant=args.variant, weights=args.weights, untrained=args.untrained)
    example = export_onnx(model, model_spec, args.output, height=height, width=width, frames=args.frames,
                          opset=args.opset, overwrite=args.overwrite)
    print(f"wrote {args.output}: {model_spec.name} ({model_spec.temporal}), input {tuple(example.shape)}, opset "
          f"{args.opset}")
    if not args.no_check:
        print(check_parity(args.output, model, example))
    return 0


# ----------------------------------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------------------------------
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    _add_upscale, _add_degrade, _add_eval, _add_models, _add_train, _add_eval_model, _add_convert, _add_bench,
    _add_compare, _add_export, _add_prepare_photos,
]


def build_parser() -> argparse.ArgumentParser:
    from vsrkit import __version__

    parser = argparse.ArgumentParser(prog="vsrkit", description="Video super-resolution toolkit.")
    parser.add_argument("--version", action="version", version=f"vsrkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with interrupt.stop_handlers():
        return _run_command(args)


def _run_command(args: argparse.Namespace) -> int:
    from vsrkit.io import outputs

    outputs.reset_published()
    try:
        rc = int(args.func(args) or 0)
        interrupt.check()  # a stop whose exception some library swallowed still ends the command as stopped
        return rc
    except VsrkitError as exc:
        print(f"vsrkit: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # e.g. an output "directory" that is a file, permission denied, disk full
        where = f" '{exc.filename}'" if exc.filename else ""
        print(f"vsrkit: error: cannot access{where} ({exc.strerror or exc}): check the path, its permissions and "
              "the free disk space", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"vsrkit: interrupted ({_what_was_kept(args)})", file=sys.stderr)
        return 130
    except interrupt.Terminated:
        print(f"vsrkit: terminated ({_what_was_kept(args)})", file=sys.stderr)
        return 143


def _what_was_kept(args: argparse.Namespace) -> str:
    if args.command == "train":
        return "checkpoints up to the last complete one are kept: continue with --resume auto"
    if getattr(args, "segment", None) or getattr(args, "ray", None):
        return "finished segments are kept beside the output: re-run the same command to resume"
    from vsrkit.io import outputs

    return outputs.describe_published()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
