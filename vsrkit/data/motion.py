"""Training clips with known camera motion, rendered from still photographs.

A clip of ``T`` frames is cut from one HR photo by ``T`` affine maps ``A_t`` from frame pixel coordinates to photo
coordinates (a smooth random pan, zoom and small rotation, all sub-pixel), optionally with a foreground patch that
moves with its own affine maps ``B_t`` on top (parallax and occlusion). Frames are resampled from the photo first;
a :mod:`vsrkit.degrade` protocol then turns the HR clip into LR, so blur, subsampling and noise happen *after* the
motion, as a real camera records it.

Because the motion is analytic, the optical flow between consecutive frames is known in closed form: on frame
``t``'s grid, pixel ``p`` shows photo point ``A_t p``, which frame ``t+1`` shows at ``q = A_{t+1}^{-1} A_t p``, so
``flow_t(p) = q - p`` and ``flow_warp(frame_{t+1}, flow_t) ≈ frame_t`` (:func:`vsrkit.ops.warp.flow_warp`
convention, which is also SpyNet's: ``SpyNet(ref=frame_t, supp=frame_{t+1})``). Where the foreground covers ``p``
the flow is the foreground's, ``B_{t+1}^{-1} B_t p - p``.

Coordinates: pixel ``(x, y)`` is column ``x``, row ``y``, pixel centres on integers (``align_corners=True``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from vsrkit.errors import VsrkitError

__all__ = [
    "Affine",
    "MotionSettings",
    "MotionClip",
    "draw_camera_path",
    "render_motion_clip",
    "pair_flows",
    "MotionClipDataset",
    "photo_sources",
    "translated_pair",
]


# ----------------------------------------------------------------------------------------------------------------
# Affine maps and their flows
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Affine:
    """``x ↦ M x + b`` from frame pixels ``(x, y)`` to source pixels; ``M`` ``(2, 2)``, ``b`` ``(2,)`` float64."""

    M: np.ndarray
    b: np.ndarray

    @staticmethod
    def similarity(centre: Sequence[float], zoom: float, angle: float, size: int) -> "Affine":
        """The frame of side ``size`` whose centre shows source point ``centre``, ``zoom`` source px per frame px,
        rotated by ``angle`` radians."""
        c, s = math.cos(angle), math.sin(angle)
        M = zoom * np.array([[c, -s], [s, c]])
        p0 = np.full(2, (size - 1) / 2.0)
        return Affine(M, np.asarray(centre, dtype=np.float64) - M @ p0)

    def apply(self, pts: np.ndarray) -> np.ndarray:
        """``pts`` ``(..., 2)`` → ``(..., 2)``."""
        return pts @ self.M.T + self.b

    def then_inverse_of(self, other: "Affine") -> "Affine":
        """``other^{-1} ∘ self``: where ``other``'s frame shows what ``self``'s frame shows at ``p``."""
        inv = np.linalg.inv(other.M)
        return Affine(inv @ self.M, inv @ (self.b - other.b))


def _grid(h: int, w: int) -> np.ndarray:
    ys, xs = np.meshgrid(np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64), indexing="ij")
    return np.stack([xs, ys], axis=-1)


def _affine_flow(a: Affine, b: Affine, grid: np.ndarray) -> np.ndarray:
    """Flow ``(H, W, 2)`` on frame ``a``'s grid into frame ``b`` (both maps into one source)."""
    return a.then_inverse_of(b).apply(grid) - grid


# ----------------------------------------------------------------------------------------------------------------
# Random smooth motion
# ----------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MotionSettings:
    """Ranges of the random camera and foreground motion (per frame, in HR frame pixels unless stated).

    Each trajectory is quadratic in time (a constant velocity plus a constant acceleration), so consecutive
    displacements change smoothly, as a panning, zooming and slowly turning camera moves.

    Attributes:
        max_speed: largest pan speed (px/frame); the speed is drawn uniformly in ``[0, max_speed]``, direction
            uniform.
        max_accel: largest change of the pan velocity per frame (px/frame²), per axis.
        max_zoom_rate: largest relative zoom change per frame (0.01 = 1 %/frame), either way.
        max_rotation_deg: largest rotation per frame (degrees), either way.
        max_start_angle_deg: largest rotation of the first frame (degrees).
        downscale: range of the anti-aliased reduction applied to the photo before sampling (wallpapers are far
            larger than video frames; this sets the content scale and removes sensor noise).
        foreground_prob: probability of a moving foreground layer.
        foreground_size: range of its side as a fraction of the frame side.
        foreground_speed: largest speed of the foreground relative to the frame (px/frame).
    """

    max_speed: float = 8.0
    max_accel: float = 0.3
    max_zoom_rate: float = 0.01
    max_rotation_deg: float = 0.5
    max_start_angle_deg: float = 5.0
    downscale: tuple[float, float] = (1.0, 3.0)
    foreground_prob: float = 0.0
    foreground_size: tuple[float, float] = (0.25, 0.5)
    foreground_speed: float = 8.0

    @staticmethod
    def from_dict(d: dict[str, Any] | None) -> "MotionSettings":
        d = dict(d or {})
        known = set(MotionSettings.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise VsrkitError(f"unknown motion option(s) {', '.join(unknown)}: valid are {', '.join(sorted(known))}")
        for k in ("downscale", "foreground_size"):
            if k in d:
                d[k] = tuple(float(v) for v in d[k])
        return MotionSettings(**d)


def _path_values(num: int, v0: np.ndarray, accel: np.ndarray) -> np.ndarray:
    """``(num, D)``: positions ``v0·t + accel·t²/2`` for ``t = 0..num-1`` (starting at 0)."""
    t = np.arange(num, dtype=np.float64)[:, None]
    return v0[None] * t + 0.5 * accel[None] * t**2


def draw_camera_path(rng: np.random.Generator, num_frames: int, size: int, settings: MotionSettings,
                     centre: Sequence[float] = (0.0, 0.0)) -> list[Affine]:
    """``num_frames`` similarity maps of a smooth random camera path around source point ``centre``.

    The path starts at ``centre`` (frame 0) and drifts; the caller recentres it to fit the source.
    """
    direction = rng.uniform(0, 2 * math.pi)
    speed = rng.uniform(0, settings.max_speed)
    v0 = speed * np.array([math.cos(direction), math.sin(direction)])
    shift = _path_values(num_frames, v0, rng.uniform(-settings.max_accel, settings.max_accel, 2))
    zr = settings.max_zoom_rate
    log_zoom = _path_values(num_frames, np.array([rng.uniform(-zr, zr)]), np.array([rng.uniform(-zr, zr) / 10]))
    rot = math.radians(settings.max_rotation_deg)
    angle0 = math.radians(rng.uniform(-settings.max_start_angle_deg, settings.max_start_angle_deg))
    angles = angle0 + _path_values(num_frames, np.array([rng.uniform(-rot, rot)]),
                                   np.array([rng.uniform(-rot, rot) / 10]))
    maps = []
    for t in range(num_frames):
        zoom, angle = math.exp(log_zoom[t, 0]), angles[t, 0]
        # The camera pans in its own (rotated, zoomed) frame, so a pan of v px moves the picture by v frame px.
        c, s = math.cos(angle), math.sin(angle)
        pan = zoom * np.array([[c, -s], [s, c]]) @ shift[t]
        maps.append(Affine.similarity(np.asarray(centre) + pan, zoom, angle, size))
    return maps


def _footprint(maps: Sequence[Affine], size: int) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array([[0, 0], [size - 1, 0], [0, size - 1], [size - 1, size - 1]], dtype=np.float64)
    pts = np.concatenate([m.apply(corners) for m in maps])
    return pts.min(0), pts.max(0)


def _recentre(maps: Sequence[Affine], offset: np.ndarray) -> list[Affine]:
    return [Affine(m.M, m.b + offset) for m in maps]


def _fit_path(rng: np.random.Generator, num_frames: int, size: int, settings: MotionSettings,
              src_w: int, src_h: int, margin: float) -> list[Affine]:
    """A camera path whose every frame lies inside the ``src_w × src_h`` source (``margin`` px from its edges).

    Paths that would not fit are drawn again with the speed limit halved (up to 6 times)."""
    for attempt in range(7):
        s = settings if attempt == 0 else MotionSettings(
            **{**settings.__dict__, "max_speed": settings.max_speed / 2**attempt,
               "max_accel": settings.max_accel / 2**attempt})
        maps = draw_camera_path(rng, num_frames, size, s)
        lo, hi = _footprint(maps, size)
        room = np.array([src_w - 1, src_h - 1], dtype=np.float64) - 2 * margin - (hi - lo)
        if np.all(room >= 0):
            offset = margin - lo + rng.uniform(0, 1, 2) * room
            return _recentre(maps, offset)
    raise VsrkitError(
        f"a {src_w}x{src_h} photo is too small for {num_frames} moving {size}x{size} frames: "
        "use larger photos, a smaller gt_size or a smaller motion.downscale"
    )


# ----------------------------------------------------------------------------------------------------------------
# Rendering
# ----------------------------------------------------------------------------------------------------------------
def _sample(source: torch.Tensor, maps: Sequence[Affine], h: int, w: int, mode: str) -> torch.Tensor:
    """``source`` ``(1, C, Hs, Ws)`` float → ``(T, C, h, w)`` sampled at ``maps`` (zeros outside)."""
    _, c, hs, ws = source.shape
    grid = _grid(h, w)
    pos = np.stack([m.apply(grid) for m in maps])  # (T, size, size, 2) source pixels
    norm = 2.0 * pos / np.array([max(ws - 1, 1), max(hs - 1, 1)]) - 1.0
    g = torch.from_numpy(norm).to(source.dtype)
    return F.grid_sample(source.expand(len(maps), -1, -1, -1), g, mode=mode, padding_mode="zeros",
                         align_corners=True)


def _to_tensor(img: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float().div_(255.0)


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """``(T, 3, H, W)`` float in [0, 1] → ``(T, H, W, 3)`` uint8."""
    return (x.clamp(0, 1) * 255.0).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def _reduce(photo: np.ndarray, factor: float) -> np.ndarray:
    """Anti-aliased reduction by ``factor`` (area averaging), or the photo itself at ``factor`` ≈ 1."""
    if factor <= 1.0 + 1e-6:
        return photo
    import cv2

    h, w = photo.shape[:2]
    size = (max(1, round(w / factor)), max(1, round(h / factor)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA)


def _largest_reduction(photo: np.ndarray, size: int) -> float:
    return max(1.0, min(photo.shape[:2]) / (1.3 * size))


@dataclass
class MotionClip:
    """One rendered clip.

    Attributes:
        frames: ``(T, H, W, 3)`` uint8 HR frames (``H = W = size``).
        flows: ``(T-1, H, W, 2)`` float32, ``flows[t]`` on frame ``t``'s grid pointing into frame ``t+1``
            (``(dx, dy)`` pixels).
        valid: ``(T-1, H, W)`` bool, where ``flow_warp(frame_{t+1}, flows[t])`` shows the same surface point:
            the target lies inside frame ``t+1`` and is not covered there by another layer (occlusion).
        foreground: ``(T, H, W)`` bool, where the foreground layer is drawn (all False without one).
        params: JSON-able description (photo size, reduction, per-frame maps).
    """

    frames: np.ndarray
    flows: np.ndarray
    valid: np.ndarray
    foreground: np.ndarray
    params: dict = field(default_factory=dict)


def pair_flows(cam: Sequence[Affine], size: int, fg: Sequence[Affine] | None = None,
               fg_masks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form flows between consecutive frames and their validity (see :class:`MotionClip`).

    Args:
        cam: background maps (frame → photo), one per frame.
        size: frame side.
        fg: foreground maps (frame → foreground patch), one per frame, or ``None``.
        fg_masks: ``(T, size, size)`` bool where the foreground is drawn (needed with ``fg``).
    Returns:
        ``flows`` ``(T-1, size, size, 2)`` float32 and ``valid`` ``(T-1, size, size)`` bool.
    """
    grid = _grid(size, size)
    flows, valid = [], []
    for t in range(len(cam) - 1):
        flow = _affine_flow(cam[t], cam[t + 1], grid)
        if fg is not None:
            fg_flow = _affine_flow(fg[t], fg[t + 1], grid)
            flow = np.where(fg_masks[t][..., None], fg_flow, flow)
        target = grid + flow
        inside = np.all((target >= 0) & (target <= size - 1), axis=-1)
        ok = inside
        if fg is not None:
            # A background point whose target is under the foreground in frame t+1 is occluded there.
            ti = np.clip(np.rint(target), 0, size - 1).astype(np.int64)
            covered_next = fg_masks[t + 1][ti[..., 1], ti[..., 0]]
            ok = inside & (fg_masks[t] | ~covered_next)
        flows.append(flow.astype(np.float32))
        valid.append(ok)
    empty = (0, size, size)
    return (np.stack(flows) if flows else np.zeros((*empty, 2), np.float32),
            np.stack(valid) if valid else np.zeros(empty, bool))


def render_motion_clip(photo: np.ndarray, rng: np.random.Generator, *, num_frames: int, size: int,
                       settings: MotionSettings = MotionSettings(), foreground_photo: np.ndarray | None = None,
                       mode: str = "bicubic") -> MotionClip:
    """Render ``num_frames`` frames of side ``size`` moving over ``photo`` ``(H, W, 3)`` uint8.

    The photo is first reduced by a random factor in ``settings.downscale`` (area averaging), then sampled by the
    camera maps with ``mode`` interpolation (``grid_sample``'s bicubic: sharp, sub-pixel). With probability
    ``settings.foreground_prob`` a patch of ``foreground_photo`` (default: another part of ``photo``) with an
    elliptical hard-edged mask moves across the frame with its own smooth path. ``rng`` drives every choice.
    """
    if photo.ndim != 3 or photo.shape[-1] != 3 or photo.dtype != np.uint8:
        raise VsrkitError(f"a motion source must be an (H, W, 3) uint8 photo, got {photo.shape} {photo.dtype}")
    # Small sources (video frames) are reduced less, so that the moving frames still fit in them.
    factor = min(float(rng.uniform(*settings.downscale)), _largest_reduction(photo, size))
    small = _reduce(photo, factor)
    h, w = small.shape[:2]
    margin = 3.0  # bicubic taps reach 2 px beyond the sample point
    cam = _fit_path(rng, num_frames, size, settings, w, h, margin)
    # Sample only the part of the photo the path covers: a 4K wallpaper need not be converted whole.
    lo, hi = _footprint(cam, size)
    x0, y0 = (np.floor(lo) - margin).astype(int).clip(0)
    x1, y1 = np.minimum(np.ceil(hi) + margin, [w - 1, h - 1]).astype(int)
    crop = _to_tensor(small[y0 : y1 + 1, x0 : x1 + 1])
    frames = _sample(crop, _recentre(cam, -np.array([x0, y0], dtype=np.float64)), size, size, mode)
    params: dict[str, Any] = {"photo_size": [int(photo.shape[1]), int(photo.shape[0])], "reduction": factor,
                              "camera": [{"M": m.M.tolist(), "b": m.b.tolist()} for m in cam]}
    fg_maps, fg_masks = None, np.zeros((num_frames, size, size), bool)
    if rng.random() < settings.foreground_prob:
        fg_maps, fg_masks, fg_frames = _foreground(rng, foreground_photo if foreground_photo is not None else small,
                                                   num_frames, size, settings, mode)
        m = torch.from_numpy(fg_masks)[:, None].to(frames.dtype)
        frames = frames * (1 - m) + fg_frames * m
        params["foreground"] = [{"M": a.M.tolist(), "b": a.b.tolist()} for a in fg_maps]
    flows, valid = pair_flows(cam, size, fg_maps, fg_masks if fg_maps is not None else None)
    return MotionClip(_to_uint8(frames), flows, valid, fg_masks, params)


def _foreground(rng: np.random.Generator, source: np.ndarray, num_frames: int, size: int,
                settings: MotionSettings, mode: str) -> tuple[list[Affine], np.ndarray, torch.Tensor]:
    """A moving elliptical patch: maps (frame → patch pixels), masks ``(T, size, size)`` and frames."""
    side = max(8, int(round(size * rng.uniform(*settings.foreground_size))))
    h, w = source.shape[:2]
    if h <= side or w <= side:
        raise VsrkitError(f"the foreground source {w}x{h} is smaller than the {side}px patch: use larger photos")
    py, px = int(rng.integers(0, h - side)), int(rng.integers(0, w - side))
    patch = _to_tensor(source[py : py + side, px : px + side])
    # Patch-centred path in frame coordinates: start somewhere in the frame, move with its own velocity.
    direction = rng.uniform(0, 2 * math.pi)
    speed = rng.uniform(0, settings.foreground_speed)
    v = speed * np.array([math.cos(direction), math.sin(direction)])
    accel = rng.uniform(-settings.max_accel, settings.max_accel, 2)
    start = rng.uniform(0.2, 0.8, 2) * (size - 1)
    spin = math.radians(rng.uniform(-2.0, 2.0))
    centres = start[None] + _path_values(num_frames, v, accel)
    r = (side - 1) / 2.0
    maps = []
    for t in range(num_frames):
        # Frame → patch: frame point centres[t] shows the patch centre, the patch turned by spin·t.
        c, s = math.cos(-spin * t), math.sin(-spin * t)
        rot = np.array([[c, -s], [s, c]])
        maps.append(Affine(rot, np.full(2, r) - rot @ centres[t]))
    grid = _grid(size, size)
    masks = np.stack([(((m.apply(grid) - r) / (r * np.array([1.0, 0.7]))) ** 2).sum(-1) <= 1.0 for m in maps])
    frames = _sample(patch, maps, size, size, mode)
    return maps, masks, frames


# ----------------------------------------------------------------------------------------------------------------
# Sources and the training dataset
# ----------------------------------------------------------------------------------------------------------------
def photo_sources(photos: Sequence[str] = (), clips: Sequence[str] = (), clip_frame_step: int = 25) -> list[str]:
    """Source list: photo files / folders / ``skimage:NAME`` (see :func:`vsrkit.data.images.expand_images`) plus
    every ``clip_frame_step``-th frame of sample clips or videos, named ``clip:NAME#INDEX``."""
    from vsrkit.data.images import expand_images

    out = expand_images(list(photos)) if photos else []
    for name in clips:
        from vsrkit.data.clips import Clip
        from vsrkit.data.samples import resolve_input

        path = resolve_input(name if ":" in str(name) or Path(str(name)).exists() else f"sample:{name}")
        n = len(Clip(Path(path).stem, path))
        out.extend(f"clip:{path}#{i}" for i in range(0, n, max(1, int(clip_frame_step))))
    if not out:
        raise VsrkitError("a motion dataset needs sources: e.g. photos: [photos/] or clips: [bikes]")
    return out


def load_source(spec: str) -> np.ndarray:
    """One source of :func:`photo_sources` → ``(H, W, 3)`` uint8."""
    if spec.startswith("clip:"):
        from vsrkit.data.clips import Clip

        path, _, index = spec[len("clip:"):].rpartition("#")
        return np.ascontiguousarray(Clip(Path(path).stem, path).read([int(index)])[0])
    from vsrkit.data.images import load_image

    return load_image(spec)


class MotionClipDataset(Dataset):
    """Training clips with known motion from photos (:func:`render_motion_clip`), degraded by a protocol.

    Item ``index`` uses source ``index % len(sources)`` and ``SeedSequence([seed, epoch, index])`` (like
    :class:`~vsrkit.data.datasets.TrainClipDataset`, so batches are a pure function of the iteration). Keys:

    * ``gt`` ``(T, 3, H, W)`` and ``lq`` ``(T, 3, H/s, W/s)`` float32 in [0, 1] (``lq`` only with a protocol,
      plus ``kernels``/extras as the clip datasets return them);
    * ``flow`` ``(T-1, 2, H, W)``: HR flow from frame ``t`` into ``t+1``; ``flow_valid`` ``(T-1, 1, H, W)``;
    * ``flow_lq`` ``(T-1, 2, h, w)``: the flow on the LR grid, ``flow`` averaged over each ``s×s`` block and
      divided by ``s``. For an affine flow this is exact at block-centred LR pixels (MATLAB ``imresize``: ``bi``,
      ``bd``); for phase-0 protocols it is off by the flow's change over ``(s-1)/2`` HR px (tiny for smooth
      camera motion).
    * ``key``: ``"<source>/<index>"``.

    With ``flip_sequence`` the clip is mirrored in time (frames ``1..T, T..1``) and the flows are those of the
    mirrored sequence (computed from the maps, not flipped); ``random_reverse`` plays it backwards with p = 0.5.
    """

    def __init__(self, sources: Sequence[str], *, num_frame: int, gt_size: int, protocol=None,
                 scale: int | None = None, settings: MotionSettings = MotionSettings(),
                 dataset_enlarge_ratio: int = 1, seed: int = 0, kernel_size: int | None = None,
                 random_reverse: bool = False, flip_sequence: bool = False, cache_bytes: int = 512 * 2**20) -> None:
        if not sources:
            raise VsrkitError("MotionClipDataset got no sources: give photos or clips")
        if num_frame < 1:
            raise VsrkitError(f"num_frame must be >= 1, got {num_frame}")
        self.scale = int(protocol.scale) if protocol is not None else int(scale or 1)
        if scale is not None and protocol is not None and int(scale) != self.scale:
            raise VsrkitError(f"scale {scale} differs from the protocol's scale {self.scale}: drop one of them")
        if gt_size % self.scale:
            raise VsrkitError(f"gt_size {gt_size} is not a multiple of the scale {self.scale}: pick one that is")
        self.sources = list(sources)
        self.num_frame, self.gt_size = int(num_frame), int(gt_size)
        self.protocol, self.settings = protocol, settings
        self.enlarge = max(1, int(dataset_enlarge_ratio))
        self.seed, self.kernel_size = int(seed), kernel_size
        self.random_reverse, self.flip_sequence = random_reverse, flip_sequence
        self.epoch = 0
        # Decoding a 5K wallpaper takes longer than a training step: keep photos decoded and already reduced by
        # the smallest reduction of the range (the rest is applied per clip), within a byte budget.
        self.cache_bytes = int(cache_bytes)
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        low, high = settings.downscale
        if not 0 < low <= high:
            raise VsrkitError(f"motion.downscale must be 0 < low <= high, got {settings.downscale}")
        self._render_settings = replace(settings, downscale=(1.0, high / low))

    def photo(self, source: int) -> np.ndarray:
        """Source ``source`` decoded and reduced by ``settings.downscale[0]`` or less (see
        :func:`render_motion_clip`; cached)."""
        if source in self._cache:
            self._cache.move_to_end(source)
            return self._cache[source]
        photo = load_source(self.sources[source])
        photo = _reduce(photo, min(self.settings.downscale[0], _largest_reduction(photo, self.gt_size)))
        self._cache[source] = photo
        while sum(p.nbytes for p in self._cache.values()) > self.cache_bytes and len(self._cache) > 1:
            self._cache.popitem(last=False)
        return photo

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.sources) * self.enlarge

    def render(self, index: int) -> tuple[MotionClip, np.random.Generator]:
        """The HR clip of item ``index`` (and the degradation's generator)."""
        seeds = np.random.SeedSequence([self.seed, self.epoch, index]).spawn(2)
        motion_rng, deg_rng = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[1])
        photo = self.photo(index % len(self.sources))
        clip = render_motion_clip(photo, motion_rng, num_frames=self.num_frame, size=self.gt_size,
                                  settings=self._render_settings)
        order = np.arange(self.num_frame)
        if self.random_reverse and motion_rng.random() < 0.5:
            order = order[::-1]
        if self.flip_sequence:
            order = np.concatenate([order, order[::-1]])
        if not np.array_equal(order, np.arange(self.num_frame)):
            clip = _reorder(clip, order)
        return clip, deg_rng

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        from vsrkit.data.datasets import _degraded_item, frames_to_tensor

        clip, deg_rng = self.render(index)
        item: dict[str, Any] = {}
        gt = clip.frames
        if self.protocol is not None:
            deg = self.protocol(gt, deg_rng)
            item.update(_degraded_item(deg, self.kernel_size))
            gt = deg.hr
        item["gt"] = frames_to_tensor(gt)
        flow = torch.from_numpy(clip.flows).permute(0, 3, 1, 2).contiguous()
        item["flow"] = flow
        item["flow_valid"] = torch.from_numpy(clip.valid)[:, None].float()
        s = self.scale
        item["flow_lq"] = F.avg_pool2d(flow, s) / s if s > 1 and len(flow) else flow
        item["key"] = f"{Path(self.sources[index % len(self.sources)]).name}/{index}"
        return item


def _reorder(clip: MotionClip, order: np.ndarray) -> MotionClip:
    """The clip played in frame ``order``: frames reindexed, flows recomputed from the stored maps."""
    size = clip.frames.shape[1]
    cam = [Affine(np.array(m["M"]), np.array(m["b"])) for m in clip.params["camera"]]
    cam = [cam[i] for i in order]
    fg = None
    masks = clip.foreground[order]
    if "foreground" in clip.params:
        fg = [Affine(np.array(m["M"]), np.array(m["b"])) for m in clip.params["foreground"]]
        fg = [fg[i] for i in order]
    flows, valid = pair_flows(cam, size, fg, masks if fg is not None else None)
    return MotionClip(clip.frames[order], flows, valid, masks, {**clip.params, "order": order.tolist()})


def translated_pair(image: np.ndarray, shift: Sequence[float], *, margin: int = 6,
                    mode: str = "bicubic") -> tuple[np.ndarray, np.ndarray]:
    """Two frames cut from ``image`` ``(H, W, 3)`` uint8 whose content moves by ``shift = (dx, dy)`` px (sub-pixel
    allowed) from the first to the second, so the true flow of the first into the second is ``shift`` everywhere
    (``flow_warp(second, shift) = first``). Both are ``(H - 2·margin, W - 2·margin, 3)`` uint8, resampled by the
    same interpolator (integer shifts are exact copies); ``margin`` must exceed ``|shift|`` + 2 so no sample falls
    outside ``image``."""
    dx, dy = float(shift[0]), float(shift[1])
    if max(abs(dx), abs(dy)) + 2 > margin:
        raise VsrkitError(f"shift {shift} needs margin > {max(abs(dx), abs(dy)) + 2:g}: raise margin")
    h, w = image.shape[0] - 2 * margin, image.shape[1] - 2 * margin
    if min(h, w) < 1:
        raise VsrkitError(f"image {image.shape[1]}x{image.shape[0]} is too small for margin {margin}")
    first = Affine(np.eye(2), np.array([margin, margin], dtype=np.float64))
    second = Affine(np.eye(2), np.array([margin - dx, margin - dy]))
    pair = _to_uint8(_sample(_to_tensor(image), [first, second], h, w, mode))
    return pair[0], pair[1]
