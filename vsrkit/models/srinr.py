"""SR-INR: implicit neural representation with multi-resolution hash encoding for image and video SR.

Paper: M. Aiyetigbo, W. Yuan, F. Luo, N. Li (Clemson University), "Implicit Neural Representation for Video and
Image Super-Resolution". No official code or weights are public, so this module is built from the paper and the
choices in ``docs/methods.md`` §5.2 (its table labels the paper's open questions; "A#" below refers to them).
No converter exists (nothing to convert); the code is vsrkit's own (project licence).

What each part implements
-------------------------
* **Coordinates** (Eq. 1, A5): HR pixel centres ``x = (j + 0.5)/W_hr``, ``y = (i + 0.5)/H_hr`` in [0, 1]; time
  ``z_t = 0`` in image mode and ``z_t = t/(T − 1)`` over the frames of the clip in video mode.
* **Texture encoding** (Eqs. 2–3, A2/A4): level ``r`` (grid resolution ``N_r``, Instant-NGP progression) resizes the
  LR frame to a ``N_r·texture_resolution_scale`` square (bilinear with antialiasing: area-like when shrinking),
  samples a ``k×k`` RGB stencil of spacing ``1/N_r`` around the query by ``grid_sample`` (border padding), and a
  per-level MLP ``f_θ^r`` (3k² → 64 → 3, ReLU) + ``tanh`` gives the 3-D code ``F̂^r ∈ [−1, 1]³``.
* **6-D point** (Eq. 4, A3): one point per level, ``u^r = (x, y, z_t, (F̂^r + 1)/2) ∈ [0, 1]^6``.
* **Implicit hashing** (Eqs. 5–7, A7/A8): :class:`vsrkit.ops.hash_encoding.HashGrid` with ``D = 6`` gives the
  ``2^6 = 64`` neighbour features per level; ``f_H`` (18 → 64 → 64, shared across levels) maps
  ``[u^r, o, 1 − o]`` to 64 logits, softmax → the neighbour weights (Eq. 6's ``F − F(min)`` and ``F(max) − F`` are
  fed normalised by the cell size, ``o`` and ``1 − o``, so one network serves all levels);
  ``F_p^r = Σ_c w_c·E_r[h_c]`` (Eq. 7). ``weights="multilinear"`` replaces ``f_H`` by Instant-NGP interpolation.
* **Top-down attention** (Eqs. 8–10, A9): coarse → fine, ``F̃^1 = F_p^1``,
  ``F̃^{r+1} = sigmoid(f_att(F̃^r)) ⊙ F_p^{r+1}`` (recursive on the attended feature; ``f_att``: F → 64 → F, shared).
* **Decoder** (Eq. 11, A10): ``RGB = f_C([F̃^1 … F̃^L])`` (L·F → 64 → 3), linear output (the engine clamps).
  All MLPs are two-layer with 64 hidden units and ReLU (§3.4, §4.5).
* **PEA loss** (Eqs. 12–17): :func:`pea_loss`, see its docstring for why the boost term as written has no gradient
  effect (it is a re-weighted MSE) and for the ``amplify`` variant that does what the text intends.

Choices that are ours (documented, configurable)
------------------------------------------------
* Hash tables: every level has the full ``2^log2T`` rows (``compact_tables=False``), which reproduces the paper's
  parameter counts (A7); levels whose 6-D vertex grid fits are indexed densely. Primes: Instant-NGP's first six.
* Stencil size ``k`` (``patch_size``, default 3): the paper's ≈1.23 M non-hash parameters are not reproduced with
  k = 3 (A16: k ≈ 23 would); k is a constructor argument.
* ``residual`` (default False, not in the paper): add the MATLAB-bicubic value of the LR frame at the query point
  (:func:`vsrkit.ops.resize.cubic_sample`, equal to ``imresize`` on integer-scale grids) to the decoder output, so
  the network predicts a correction; the decoder's last layer starts at 1 % of its default initialisation, so
  an untrained model is the bicubic baseline to within a few 1e-3 and training starts from it. Off in the
  ``paper``/``small`` variants; ``small_residual`` (the shipped one) turns it on for the generalising setting.
  Why a generalising model needs the next three options (all off in ``paper``/``small``) is measured below.
* ``coords`` (default ``"global"``, the paper's Eq. 1): ``"local"`` feeds the hash grid the query's sub-pixel
  position inside its LR pixel (``frac(x·w), frac(y·h)``, as LIIF's relative coordinates) instead of its absolute
  image position. Absolute positions index table cells that belong to one image's layout, which is what a
  per-video *fitted* model wants and what a *generalising* model cannot use on unseen images; the local phase
  plus the texture codes is the content a resampler needs. ``small_residual`` uses it (chosen by this reasoning,
  not ablated).
* ``texture`` (default ``"image"``, A2 in docs/methods.md §5.2: level images are ``N_r``-pixel squares, stencil spacing
  ``1/N_r`` of the frame): ``"pixel"`` builds an LR pyramid instead (level ``r`` = the LR frame resized by
  ``N_r/N_max``, the finest level is the LR frame itself) with a stencil spacing of one level-image pixel, so
  the codes describe the same LR detail whatever the frame size (with ``"image"``, a 112-pixel-wide test frame is
  shrunk to 64 pixels before its finest code is read). ``small_residual`` uses it (by reasoning, not ablated).
* ``decoder_codes`` (default False): the decoder also receives the per-level texture codes ``F̂^r`` beside the
  attended hash features (a skip connection; Eq. 11 feeds it the hash features only). Measured on the photos at ×4
  (200 iterations, batch 8 × 2048 queries, MSE): with Eq. 11's input the generalising residual model never left
  the bicubic baseline (training loss / bicubic loss 1.000 throughout) — the code MLPs only receive gradient
  through the tiny interpolation offsets of near-zero table entries; with the skip it fell to 0.92–0.96 from
  iteration 60 on (both runs with local coordinates and pixel textures). ``small_residual`` uses it;
  ``paper``/``small`` keep Eq. 11.
* Arbitrary output size: ``scale`` is a float attribute; ``forward(x, size=(H, W))`` gives any explicit size.
  Output length per axis is ``round_half_up(scale·n)`` (:func:`output_length`). Queries are evaluated in chunks of
  ``chunk_size`` points so memory does not grow with the output size.
* Video mode and the engine contract: ``mode="video"`` uses ``z_t = t/(T − 1)`` over the frames it is given, so
  an output frame depends on the whole clip: the registry entry ``srinr_video`` is ``temporal="recurrent"`` and a
  per-video fitted model must be run with a chunk covering the whole clip (``--chunk`` ≥ frames,
  ``--chunk-overlap 0``; ``vsrkit eval-model`` does this by default). ``srinr`` (image mode) is a ``"frame"``
  model. Neither model is tileable (coordinates and level images are global): ``tileable = False``.

Memory
------
The ``paper`` variant holds 12 × 2^24 × 2 = 402,653,184 table entries (1.6 GB fp32; 6.4 GB with gradients and
Adam state). Build it on the ``meta`` device to count parameters; train it on a GPU.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from vsrkit.models.spec import ModelSpec
from vsrkit.ops.hash_encoding import HashGrid, multilinear_weights
from vsrkit.ops.resize import cubic_sample

__all__ = ["SRINR", "VARIANTS", "output_length", "pea_loss", "make_coords", "mlp"]

VARIANTS: dict[str, dict[str, Any]] = {
    # Tables 4-8 default row: L 12, F 2, log2T 24, N_min 4, N_max 128.
    "paper": {"n_levels": 12, "n_features": 2, "log2_table_size": 24, "base_resolution": 4,
              "finest_resolution": 128, "patch_size": 3},
    # CPU-trainable: 6 levels, 2^14-row tables.
    "small": {"n_levels": 6, "n_features": 2, "log2_table_size": 14, "base_resolution": 4,
              "finest_resolution": 64, "patch_size": 3},
    # The generalising reading shipped with vsrkit: bicubic + a correction, LR-pixel-local (x, y).
    "small_residual": {"n_levels": 6, "n_features": 2, "log2_table_size": 14, "base_resolution": 4,
                       "finest_resolution": 64, "patch_size": 3, "residual": True, "coords": "local",
                       "texture": "pixel", "decoder_codes": True},
    "tiny": {"n_levels": 3, "n_features": 2, "log2_table_size": 10, "base_resolution": 2,
             "finest_resolution": 8, "patch_size": 3, "chunk_size": 4096},
}


def mlp(n_in: int, n_out: int, hidden: int = 64) -> nn.Sequential:
    """The paper's network: two layers, one hidden layer of ``hidden`` units, ReLU."""
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_out))


def output_length(n: int, scale: float) -> int:
    """Output pixels along an axis of ``n`` input pixels: ``scale·n`` rounded half up (float error guarded)."""
    return int(math.floor(n * float(scale) + 0.5 + 1e-9))


def make_coords(h: int, w: int, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> Tensor:
    """Pixel-centre coordinates ``(h·w, 2)`` as ``(x, y)`` in [0, 1], row-major."""
    ys = (torch.arange(h, device=device, dtype=dtype) + 0.5) / h
    xs = (torch.arange(w, device=device, dtype=dtype) + 0.5) / w
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], dim=-1)


class SRINR(nn.Module):
    """``(B, T, 3, h, w)`` → ``(B, T, 3, round(s·h), round(s·w))`` for any real ``scale`` (or an explicit size)."""

    tileable = False  # coordinates and level images are global to the frame: tiles would change the result

    def __init__(
        self,
        *,
        scale: float = 4.0,
        n_levels: int = 12,
        n_features: int = 2,
        log2_table_size: int = 24,
        base_resolution: int = 4,
        finest_resolution: int = 128,
        patch_size: int = 3,
        code_dim: int = 3,
        hidden: int = 64,
        weights: str = "predicted",
        attention: bool = True,
        mode: str = "image",
        texture_resolution_scale: float = 1.0,
        residual: bool = False,
        coords: str = "global",
        texture: str = "image",
        decoder_codes: bool = False,
        compact_tables: bool = False,
        chunk_size: int = 65536,
    ) -> None:
        super().__init__()
        if weights not in ("predicted", "multilinear"):
            raise ValueError(f"weights must be 'predicted' or 'multilinear' (got {weights!r})")
        if texture not in ("image", "pixel"):
            raise ValueError(f"texture must be 'image' or 'pixel' (got {texture!r})")
        if coords not in ("global", "local"):
            raise ValueError(f"coords must be 'global' or 'local' (got {coords!r})")
        if mode not in ("image", "video"):
            raise ValueError(f"mode must be 'image' or 'video' (got {mode!r})")
        if not scale > 0:
            raise ValueError(f"scale must be positive (got {scale})")
        self.scale = float(scale)
        self.mode, self.weights, self.attention, self.residual = mode, weights, attention, residual
        self.coords, self.texture_mode = coords, texture
        self.patch_size, self.code_dim, self.chunk_size = patch_size, code_dim, chunk_size
        self.texture_resolution_scale = texture_resolution_scale
        dim = 3 + code_dim
        self.grid = HashGrid(in_dim=dim, n_levels=n_levels, n_features=n_features, log2_table_size=log2_table_size,
                             base_resolution=base_resolution, finest_resolution=finest_resolution,
                             compact_tables=compact_tables)
        self.n_levels, self.n_features = n_levels, n_features
        self.texture = nn.ModuleList(mlp(3 * patch_size**2, code_dim, hidden) for _ in range(n_levels))  # f_θ^r
        self.weight_net = mlp(3 * dim, 2**dim, hidden) if weights == "predicted" else None  # f_H
        self.att = mlp(n_features, n_features, hidden) if attention else None  # f_att
        self.decoder_codes = decoder_codes
        self.decoder = mlp(n_levels * (n_features + (code_dim if decoder_codes else 0)), 3, hidden)  # f_C
        if residual:
            # start near the bicubic baseline (not exactly zero, so every parameter still receives a gradient)
            with torch.no_grad():
                self.decoder[-1].weight.mul_(0.01)
                self.decoder[-1].bias.zero_()
        k = torch.arange(patch_size, dtype=torch.float32) - (patch_size - 1) / 2
        ky, kx = torch.meshgrid(k, k, indexing="ij")
        self.register_buffer("stencil", torch.stack([kx.reshape(-1), ky.reshape(-1)], -1), persistent=False)

    # -- pieces --------------------------------------------------------------------------------------------------
    def level_images(self, lr: Tensor) -> list[Tensor]:
        """The per-level "resolution grid" images ``(N, 3, n_r, n_r)`` of frames ``(N, 3, h, w)``."""
        out = []
        h, w = lr.shape[-2:]
        finest = self.grid.resolutions[-1]
        for n in self.grid.resolutions:
            if self.texture_mode == "pixel":  # an LR pyramid: the finest level is the LR frame itself
                size = (max(int(round(h * n / finest)), 1), max(int(round(w * n / finest)), 1))
                if size == (h, w):
                    out.append(lr)
                    continue
            else:
                side = max(int(round(n * self.texture_resolution_scale)), 1)
                size = (side, side)
            out.append(F.interpolate(lr, size=size, mode="bilinear", align_corners=False, antialias=True))
        return out

    def texture_code(self, image: Tensor, level: int, xy: Tensor) -> Tensor:
        """Eq. 3 at ``level``: codes ``(N, Q, code_dim)`` in [−1, 1] for query points ``xy (N, Q, 2)``."""
        n_img, q = xy.shape[:2]
        if self.texture_mode == "pixel":  # one pixel of the level image
            spacing = xy.new_tensor([1.0 / image.shape[-1], 1.0 / image.shape[-2]])
        else:
            spacing = 1.0 / self.grid.resolutions[level]
        pos = xy[:, :, None, :] + self.stencil.to(xy.dtype) * spacing  # (N, Q, k², 2)
        patch = F.grid_sample(image, pos * 2 - 1, mode="bilinear", padding_mode="border", align_corners=False)
        patch = patch.permute(0, 2, 1, 3).reshape(n_img, q, -1) - 0.5  # (N, Q, 3·k²)
        return torch.tanh(self.texture[level](patch))

    def texture_codes(self, images: list[Tensor], xy: Tensor) -> list[Tensor]:
        """Per level, codes ``(N, Q, code_dim)`` in [−1, 1] for query points ``xy (N, Q, 2)``."""
        return [self.texture_code(img, level, xy) for level, img in enumerate(images)]

    def level_feature(self, u: Tensor, level: int, return_weights: bool = False):
        """Eqs. 5–7: ``F_p^r (M, F)`` of 6-D points ``u (M, 6)``; optionally the 64 weights ``(M, 64)``."""
        feats, offsets = self.grid.corners(u, level)  # (M, 64, F), (M, 6)
        if self.weight_net is not None:
            w = torch.softmax(self.weight_net(torch.cat([u, offsets, 1.0 - offsets], dim=-1)), dim=-1)
        else:
            w = multilinear_weights(offsets, self.grid.bits)
        fp = (w[..., None] * feats).sum(-2)
        return (fp, w) if return_weights else fp

    def combine(self, levels: list[Tensor]) -> list[Tensor]:
        """Eqs. 8–9, top-down (coarse → fine) attention; returns the attended per-level features."""
        if self.att is None:
            return levels
        out = [levels[0]]
        for r in range(1, len(levels)):
            out.append(torch.sigmoid(self.att(out[-1])) * levels[r])
        return out

    # -- queries -------------------------------------------------------------------------------------------------
    def query(self, lr: Tensor, xy: Tensor, z: Tensor | None = None, *, images: list[Tensor] | None = None,
              return_aux: bool = False):
        """RGB ``(N, Q, 3)`` at points ``xy (N, Q, 2)`` (x, y in [0, 1]) of frames ``lr (N, 3, h, w)``.

        ``z (N,)`` is each frame's time coordinate (zeros in image mode). ``images`` reuses precomputed level
        images. Training calls this with random query subsets; :meth:`forward` calls it chunk by chunk.
        """
        n_img, q = xy.shape[:2]
        images = self.level_images(lr) if images is None else images
        codes = self.texture_codes(images, xy)
        zz = torch.zeros(n_img, device=xy.device, dtype=xy.dtype) if z is None else z.to(xy.dtype)
        pos = xy
        if self.coords == "local":  # sub-pixel phase inside the LR pixel: the same for every image (generalises)
            pix = xy * xy.new_tensor([lr.shape[-1], lr.shape[-2]])
            pos = pix - torch.floor(pix)
        base = torch.cat([pos, zz[:, None, None].expand(n_img, q, 1)], dim=-1)  # (N, Q, 3)
        feats, weights, points = [], [], []
        for level, code in enumerate(codes):
            u = torch.cat([base, (code + 1) * 0.5], dim=-1).reshape(-1, base.shape[-1] + self.code_dim)
            fp, w = self.level_feature(u, level, return_weights=True)
            feats.append(fp)
            if return_aux:
                weights.append(w.reshape(n_img, q, -1))
                points.append(u.reshape(n_img, q, -1))
        attended = self.combine(feats)
        dec_in = torch.cat(attended, dim=-1).reshape(n_img, q, -1)
        if self.decoder_codes:
            dec_in = torch.cat([dec_in, *codes], dim=-1)
        rgb = self.decoder(dec_in).reshape(n_img, q, 3)
        if self.residual:
            rgb = rgb + cubic_sample(lr, xy)
        if not return_aux:
            return rgb
        # Per query and level: texture codes (N, Q, L, 3), 64 weights (N, Q, L, 64), 6-D points (N, Q, L, 6) and
        # attended features (N, Q, L, F).
        aux = {"codes": torch.stack(codes, 2), "weights": torch.stack(weights, 2), "points": torch.stack(points, 2),
               "levels": torch.stack([f.reshape(n_img, q, -1) for f in attended], 2)}
        return rgb, aux

    def frame_times(self, t: int, device: torch.device, dtype: torch.dtype) -> Tensor:
        if self.mode == "image" or t == 1:
            return torch.zeros(t, device=device, dtype=dtype)
        return torch.arange(t, device=device, dtype=dtype) / (t - 1)

    def forward(self, x: Tensor, *, size: tuple[int, int] | None = None, coords: Tensor | None = None,
                return_aux: bool = False):
        """``(B, T, 3, h, w)`` → ``(B, T, 3, H, W)`` with ``(H, W) = size`` or ``round(scale·(h, w))``.

        With ``coords (B, T, Q, 2)`` (x, y in [0, 1]) only those points are rendered → ``(B, T, Q, 3)`` (training
        on random query subsets goes through ``forward`` so DDP sees the call).
        """
        b, t, c, h, w = x.shape
        if coords is not None:
            lr = x.reshape(b * t, c, h, w)
            z = self.frame_times(t, x.device, x.dtype).repeat(b)
            return self.query(lr, coords.reshape(b * t, -1, 2).to(x.dtype), z).reshape(b, t, -1, 3)
        out_h, out_w = size if size is not None else (output_length(h, self.scale), output_length(w, self.scale))
        lr = x.reshape(b * t, c, h, w)
        z = self.frame_times(t, x.device, x.dtype).repeat(b)
        images = self.level_images(lr)
        coords = make_coords(out_h, out_w, x.device, x.dtype)
        step = max(self.chunk_size // (b * t), 1)
        chunks = []
        for s in range(0, coords.shape[0], step):
            xy = coords[s : s + step][None].expand(b * t, -1, -1)
            chunks.append(self.query(lr, xy, z, images=images))
        out = torch.cat(chunks, dim=1).transpose(1, 2).reshape(b, t, 3, out_h, out_w)
        if return_aux:
            return out, {"codes_map": self._code_map(lr, z, images, out_h, out_w).reshape(b, t, 3, out_h, out_w)}
        return out

    def _code_map(self, lr: Tensor, z: Tensor, images: list[Tensor], h: int, w: int) -> Tensor:
        """The finest level's texture code as an image ``(N, 3, h, w)`` in [0, 1] (for ``--save-aux``)."""
        coords = make_coords(h, w, lr.device, lr.dtype)[None].expand(lr.shape[0], -1, -1)
        level = self.n_levels - 1
        with torch.no_grad():
            code = self.texture_code(images[level], level, coords)
        return ((code + 1) * 0.5).transpose(1, 2).reshape(lr.shape[0], self.code_dim, h, w)


# ------------------------------------------------------------------------------------------------------------------
# PEA loss (Eqs. 12-17)
# ------------------------------------------------------------------------------------------------------------------
def pea_loss(pred: Tensor, target: Tensor, *, tau: float = 1e-4, eps: float = 1e-4, delta: float = 1e-3,
             alpha: float = 0.5, variant: str = "literal", channel_dim: int = -1) -> Tensor:
    """Pixel-Error-Aware loss. Per pixel ``e_p = mean over RGB of (pred − target)²`` (Eq. 12).

    * ``variant="literal"`` (Eqs. 13–17 as printed; masks recomputed per batch, no state):
      ``L_recon = mean(e·1[e > τ])``, ``L_boost = mean(e + δ·1[e < ε])``, ``L = L_recon + α·L_boost``.
      The masks are piecewise constant and δ is a constant, so the **gradient equals that of a re-weighted MSE**:
      pixels with ``e > τ`` get weight ``1 + α`` and the others ``α``; δ only shifts the reported value. This
      de-emphasises low-error pixels, the opposite of the stated intent ("amplify errors of low-error regions").
    * ``variant="amplify"``: ``L_boost = mean(e·(1 + δ·1[e < ε]))`` — really up-weights the low-error pixels
      (use δ ≈ 1).
    The paper gives no values (they are "in the supplementary material"); the defaults are the reference's
    proposals in [0, 1]² units.
    """
    if variant not in ("literal", "amplify"):
        raise ValueError(f"PEA variant must be 'literal' or 'amplify' (got {variant!r})")
    e = (pred - target).pow(2).mean(dim=channel_dim)
    with torch.no_grad():
        recon_mask = (e > tau).to(e.dtype)
        boost_mask = (e < eps).to(e.dtype)
    l_recon = (e * recon_mask).mean()
    l_boost = (e + boost_mask * delta).mean() if variant == "literal" else (e * (1 + delta * boost_mask)).mean()
    return l_recon + alpha * l_boost


_PAPER = "Aiyetigbo et al., Implicit Neural Representation for Video and Image Super-Resolution"

SPECS = (
    ModelSpec(
        name="srinr",
        builder=SRINR,
        description="SR-INR (image mode): 6-D hash-grid INR over (x, y, t, texture code), any real scale",
        scale=None,
        arbitrary_scale=True,
        temporal="frame",  # image mode: every frame on its own (t = 0)
        variants=VARIANTS,
        default_variant="paper",
        aux_outputs=("codes_map",),
        paper=_PAPER,  # no official weights exist
    ),
    ModelSpec(
        name="srinr_video",
        builder=SRINR,
        description="SR-INR (video mode, z_t = t/(T-1) over the clip): run fitted models with --chunk >= frames",
        scale=None,
        arbitrary_scale=True,
        temporal="recurrent",  # an output frame depends on the clip (its time coordinate spans the clip)
        variants={name: {**kwargs, "mode": "video"} for name, kwargs in VARIANTS.items()},
        default_variant="paper",
        aux_outputs=("codes_map",),
        paper=_PAPER,
    ),
)
