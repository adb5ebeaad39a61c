"""Video file probing, decoding to RGB and encoding from RGB (PyAV), each overlapped with compute in a thread.

Colour handling (the part most VSR tools get wrong, see video2x#403):

* Decoding converts YUV to RGB with the stream's own matrix and range. When the file does not say which matrix it
  uses, the usual broadcast rule applies: BT.709 for HD (height >= 720), BT.601 otherwise. When it does not say which
  range, YUV is assumed limited ("tv", 16-235) except for the JPEG ``yuvj*`` formats; gray and RGB formats are full
  range. ``VideoInfo.color_matrix_source`` records whether the matrix was tagged or guessed.
* Encoding converts RGB to YUV with exactly the matrix and range it writes into the stream tags (default BT.709, tv),
  so players that honour the tags reproduce the RGB the model produced.
* The transfer function (BT.709, PQ ``smpte2084``, HLG ``arib-std-b67``, ...) and the primaries are not applied to
  the pixels at all: the model sees the source's own non-linear RGB, and the output carries the source's transfer,
  primaries, matrix and range tags (:func:`open_writer` with ``like=``), so HDR10 and HLG stay HDR. With no pixel
  format given, the output keeps the source's chroma subsampling and bit depth (:func:`output_pix_fmt`).

Models work on 8-bit-range RGB; ``dtype='uint16'`` / ``'auto'`` keeps >8-bit sources at full 16-bit scale so that a
10-bit pipeline does not lose precision before the model.
"""

from __future__ import annotations

import logging
import os
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from vsrkit.errors import VsrkitError
from vsrkit.io import atomic, outputs
from vsrkit.io.streams import Dtype, Frame, FrameReader, VideoInfo, check_frame, want_uint16
from vsrkit.io.threads import Prefetcher, Worker

log = logging.getLogger(__name__)

_RGB48 = "rgb48le" if sys.byteorder == "little" else "rgb48be"

# FFmpeg AVColorSpace codes -> our matrix names. 5 (BT470BG) and 6 (SMPTE170M) are both the BT.601 matrix.
_AVCOL_SPC = {0: "rgb", 1: "bt709", 4: "fcc", 5: "bt601", 6: "bt601", 7: "smpte240m", 9: "bt2020", 10: "bt2020"}
# Our matrix names -> swscale coefficient sets.
_SWS_CS = {"bt709": Colorspace.ITU709, "bt601": Colorspace.ITU601, "fcc": Colorspace.FCC,
           "smpte240m": Colorspace.SMPTE240M, "bt2020": Colorspace.BT2020}
# Tags written for an output matrix: (AVColorSpace, AVColorPrimaries, AVColorTransferCharacteristic).
_OUT_TAGS = {"bt709": (1, 1, 1), "bt601": (6, 6, 6), "bt2020": (9, 9, 14)}
# FFmpeg's names (as ffprobe prints them) of the AVColorPrimaries, AVColorTransferCharacteristic and AVColorSpace
# codes a stream can carry; 2 ("unspecified") is absent on purpose: an untagged source leaves the defaults above.
PRIMARIES = {1: "bt709", 4: "bt470m", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 8: "film", 9: "bt2020",
             10: "smpte428", 11: "smpte431", 12: "smpte432", 22: "ebu3213"}
TRANSFERS = {1: "bt709", 4: "gamma22", 5: "gamma28", 6: "smpte170m", 7: "smpte240m", 8: "linear", 9: "log100",
             10: "log316", 11: "iec61966-2-4", 12: "bt1361e", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
             16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}
MATRIX_TAGS = {1: "bt709", 4: "fcc", 5: "bt470bg", 6: "smpte170m", 7: "smpte240m", 9: "bt2020nc", 10: "bt2020c"}
HDR_TRANSFERS = frozenset({"smpte2084", "arib-std-b67"})
_RANGE = {"tv": ColorRange.MPEG, "pc": ColorRange.JPEG}

# Suffixes (lower case, with the dot) of the video files we read as clips.
VIDEO_EXTENSIONS = frozenset({".mp4", ".mkv", ".mov", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".ts", ".y4m",
                              ".gif"})
# Output containers we write, with the codec used when none is given.
_CONTAINERS = {".mp4": "libx264", ".m4v": "libx264", ".mov": "libx264", ".mkv": "libx264", ".avi": "libx264",
               ".ts": "libx264", ".webm": "libvpx-vp9", ".mpg": "mpeg2video", ".mpeg": "mpeg2video"}
# Video formats (FFmpeg codec names) each container can hold (Matroska holds them all), and this project's usual
# encoder for each. An encoder of another format is refused up front with the list, instead of failing when the
# header is written; hardware encoders (h264_nvenc, ...) are judged by the format they produce.
_ANY_CODEC = None
_CONTAINER_CODECS: dict[str, tuple[str, ...] | None] = {
    ".mp4": ("h264", "hevc", "av1", "vp9", "mpeg4", "mpeg2video", "mjpeg"),
    ".m4v": ("h264", "hevc", "av1", "mpeg4"),
    ".mov": ("h264", "hevc", "prores", "dnxhd", "av1", "vp9", "mpeg4", "mpeg2video", "mjpeg", "qtrle", "png"),
    ".mkv": _ANY_CODEC,
    ".avi": ("h264", "mpeg4", "msmpeg4v3", "mjpeg", "ffv1", "huffyuv", "mpeg2video"),
    ".ts": ("h264", "hevc", "mpeg2video", "mpeg1video", "av1"),
    ".webm": ("vp9", "vp8", "av1"),
    ".mpg": ("mpeg2video", "mpeg1video"), ".mpeg": ("mpeg2video", "mpeg1video"),
}
_ENCODERS = {"h264": ("libx264",), "hevc": ("libx265",), "av1": ("libsvtav1", "libaom-av1"), "vp9": ("libvpx-vp9",),
             "vp8": ("libvpx",), "prores": ("prores_ks",), "dnxhd": ("dnxhd",), "mpeg4": ("mpeg4",),
             "mpeg2video": ("mpeg2video",), "mpeg1video": ("mpeg1video",), "mjpeg": ("mjpeg",), "ffv1": ("ffv1",),
             "huffyuv": ("huffyuv",), "msmpeg4v3": ("msmpeg4",), "png": ("png",), "qtrle": ("qtrle",)}
# Codecs that take a CRF (others get a bitrate derived from the frame size).
_CRF_CODECS = {"libx264", "libx265", "libvpx", "libvpx-vp9", "libaom-av1", "libsvtav1"}
# Codecs/containers whose time base must be 1/fps (they cannot carry finer timestamps).
_FRAME_GRID_CODECS = {"mpeg1video", "mpeg2video", "mpeg4", "msmpeg4v2", "msmpeg4", "mjpeg"}
_FRAME_GRID_SUFFIXES = {".avi", ".mpg", ".mpeg"}
# Sub-frame timestamp resolution for codecs that accept any time base (VFR times survive to 1/100 frame).
_TICKS_PER_FRAME = 100


# ---------------------------------------------------------------------------------------------------- probing


def is_video_file(path: str | os.PathLike) -> bool:
    """True for a regular file whose suffix is a known video container (:data:`VIDEO_EXTENSIONS`)."""
    p = Path(path)
    return p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS


def _open_input(path: str) -> av.container.InputContainer:
    p = Path(path)
    if not p.exists():
        raise VsrkitError(f"input '{path}' does not exist: check the path")
    if p.stat().st_size == 0:
        raise VsrkitError(f"input '{path}' is an empty file: check the path or re-export the video")
    try:
        # Tags are text only to us: damaged (non-UTF-8) metadata must not make a video unreadable.
        return av.open(str(p), mode="r", metadata_errors="replace")
    except av.error.FFmpegError as e:
        raise VsrkitError(f"input '{path}' is not a readable video ({e.strerror or e}): check the file or "
                          "convert it with ffmpeg") from None


def _bit_depth(fmt: av.VideoFormat) -> int:
    return max((c.bits for c in fmt.components), default=8)


def _resolve_matrix(code: int, height: int, fmt: av.VideoFormat) -> tuple[str, str]:
    """Return (matrix name, 'tagged'|'guessed') for an AVColorSpace code, applying the HD rule when unspecified."""
    if fmt.is_rgb:
        return "rgb", "tagged"
    name = _AVCOL_SPC.get(int(code))
    if name is not None and name != "rgb":
        return name, "tagged"
    return ("bt709" if height >= 720 else "bt601"), "guessed"


def _resolve_range(code: int, fmt: av.VideoFormat) -> str:
    if int(code) == int(ColorRange.JPEG):
        return "pc"
    if int(code) == int(ColorRange.MPEG):
        return "tv"
    # Unspecified: JPEG-style pixel formats, gray and RGB are full range; everything else is limited.
    if fmt.name.startswith("yuvj") or fmt.is_rgb or fmt.name.startswith("gray") or len(fmt.components) == 1:
        return "pc"
    return "tv"


def _fps_of(stream: av.video.stream.VideoStream) -> Fraction | None:
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            fps = Fraction(rate)
            # Averages over a few frames can come out as e.g. 2997/100; snap to the nearby standard rate.
            for std in (Fraction(24000, 1001), Fraction(30000, 1001), Fraction(60000, 1001), Fraction(120000, 1001)):
                if abs(fps - std) / std < 5e-4:
                    return std
            if abs(fps - round(fps)) < 5e-4 * fps:
                return Fraction(round(fps))
            return fps
    return None


def _probe_video(path: str) -> VideoInfo:
    container = _open_input(path)
    try:
        if not container.streams.video:
            raise VsrkitError(f"input '{path}' has no video stream: pass a video file or a folder of frames")
        s = container.streams.video[0]
        cc = s.codec_context
        if not cc.width or not cc.height or cc.format is None:
            raise VsrkitError(f"input '{path}' has a video stream without size/format (truncated or corrupt?): "
                              "re-export the video")
        fmt = cc.format
        fps = _fps_of(s)
        if fps is None:
            fps = Fraction(25)
            log.warning("%s: frame rate unknown, assuming 25 fps", path)
        matrix, matrix_src = _resolve_matrix(cc.colorspace, cc.height, fmt)
        duration = None
        if s.duration is not None and s.time_base is not None:
            duration = float(s.duration * s.time_base)
        elif container.duration is not None:
            duration = container.duration / av.time_base
        num = s.frames if s.frames and s.frames > 0 else (round(duration * fps) if duration else None)
        start = float(s.start_time * s.time_base) if s.start_time is not None and s.time_base is not None else 0.0
        rotation, first_interlaced = _first_frame_facts(container, s)
        sar = s.sample_aspect_ratio or cc.sample_aspect_ratio
        sar = Fraction(sar) if sar and Fraction(sar) > 0 and Fraction(sar) != 1 else None
        field_order = _FIELD_ORDERS.get(int(getattr(cc, "field_order", 0) or 0), "progressive")
        if field_order == "progressive" and first_interlaced:
            field_order = "interlaced"  # the frames say so; the stream does not name the field order
        return VideoInfo(
            path=str(path), width=cc.width, height=cc.height, fps=fps, num_frames=num, duration=duration,
            pix_fmt=fmt.name, bit_depth=_bit_depth(fmt), color_matrix=matrix,
            color_range=_resolve_range(cc.color_range, fmt), has_audio=bool(container.streams.audio),
            has_subtitles=bool(container.streams.subtitles), codec=cc.name, color_matrix_source=matrix_src,
            start_time=start, rotation=rotation, sample_aspect_ratio=sar,
            color_primaries=PRIMARIES.get(int(cc.color_primaries or 0)),
            color_transfer=TRANSFERS.get(int(cc.color_trc or 0)),
            color_space=None if fmt.is_rgb else MATRIX_TAGS.get(int(cc.colorspace or 0)), field_order=field_order,
        )
    finally:
        container.close()


# AVFieldOrder codes -> ffprobe's names (0 unknown and 1 progressive both read as progressive unless frames say).
_FIELD_ORDERS = {2: "tt", 3: "bb", 4: "tb", 5: "bt"}


def _first_frame_facts(container: Any, stream: Any) -> tuple[int, bool]:
    """From the first frame of ``stream`` (PyAV exposes these per frame): the display-matrix rotation in degrees
    counter-clockwise (0/90/180/270; 0 when absent or unreadable), and whether the frame is interlaced."""
    try:
        frame = next(container.decode(stream), None)
    except (av.error.FFmpegError, ValueError):
        return 0, False  # an undecodable start is the reader's to report, with its own message
    if frame is None:
        return 0, False
    try:
        angle = getattr(frame, "rotation", 0)
    except (ValueError, TypeError):  # a malformed matrix
        angle = 0
    return int(round(float(angle or 0) / 90.0)) % 4 * 90, bool(getattr(frame, "interlaced_frame", False))


def probe(path: str | os.PathLike, *, fps: float | Fraction | None = None) -> VideoInfo:
    """Describe a video file or a folder of frames without decoding it all.

    ``fps`` is used for frame folders only (they carry no rate; default 25).
    """
    p = Path(path)
    if p.is_dir():
        from vsrkit.io.frames import probe_folder

        return probe_folder(p, fps=fps)
    return _probe_video(str(p))


# ---------------------------------------------------------------------------------------------------- reading


def _tagged_duration(stream: av.video.stream.VideoStream) -> float | None:
    """Seconds from a Matroska stream's ``DURATION`` tag (``HH:MM:SS.nnnnnnnnn``), or None. FFmpeg fills a Matroska
    stream's ``duration`` from the whole file's, which audio may outlast; the tag is the stream's own length."""
    text = (stream.metadata or {}).get("DURATION")
    try:
        hours, minutes, seconds = str(text).split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    except (ValueError, TypeError):
        return None


def count_frames(path: str | os.PathLike) -> int:
    """Exact number of video frames in ``path``: the container's header count where it has one (MP4/MOV), else
    counted by decoding (other containers leave it 0 or give only a duration estimate)."""
    container = _open_input(str(path))
    try:
        if not container.streams.video:
            raise VsrkitError(f"input '{path}' has no video stream: pass a video file or a folder of frames")
        stream = container.streams.video[0]
        if stream.frames and stream.frames > 0:
            return int(stream.frames)
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))
    finally:
        container.close()


def _frame_to_rgb(frame: av.VideoFrame, info: VideoInfo, out16: bool) -> np.ndarray:
    fmt = frame.format
    kwargs: dict[str, Any] = {"format": _RGB48 if out16 else "rgb24"}
    if not fmt.is_rgb:
        # Per-frame tags win (streams may switch); otherwise the stream-level decision made in probe().
        matrix = _AVCOL_SPC.get(int(frame.colorspace)) or info.color_matrix
        rng = _resolve_range(frame.color_range, fmt) if int(frame.color_range) else info.color_range
        kwargs.update(src_colorspace=_SWS_CS.get(matrix, _SWS_CS["bt709"]), dst_colorspace=_SWS_CS.get(matrix),
                      src_color_range=_RANGE[rng], dst_color_range=ColorRange.JPEG)
    return frame.reformat(**kwargs).to_ndarray()


class _StreamAudit:
    """What the demuxer and decoder delivered, to find frames lost anywhere in a file, not only at its end.

    Evidence of loss: video packets whose decoding failed; and, when the demuxer skipped bytes that belong to no
    packet (a damaged region it resynchronised after), the holes in the video timestamps.
    Timestamp holes alone are not loss: variable-frame-rate files have them by design, and some containers (MKV)
    store a nominal duration for every packet.
    """

    # Bytes between two packets that container framing explains (cluster/block headers, TS packet and PES headers,
    # fragment boxes) are few and alike across a file; a skipped region stands out against the file's own median.
    _FRAMING_BYTES = 128
    _FRAMING_FACTOR = 4
    _FRAMING_FRACTION = 0.05

    def __init__(self) -> None:
        self.spans: list[tuple[int, int, int]] = []  # (byte position, size, stream) of every packet with data
        self.video: list[tuple[int, int, int]] = []  # (pts, duration, byte position) of video packets
        self.errors: list[tuple[int | None, Exception]] = []  # (pts, error) of video packets that failed to decode
        self.stopped: av.error.FFmpegError | None = None

    def packet(self, packet: Any, is_video: bool) -> None:
        if not packet.size:
            return
        pos = packet.pos if packet.pos is not None and packet.pos >= 0 else None
        if pos is not None:
            self.spans.append((pos, packet.size, packet.stream.index))
        if is_video and packet.pts is not None:
            self.video.append((int(packet.pts), int(packet.duration or 0), -1 if pos is None else pos))

    def decode_error(self, packet: Any, error: Exception) -> None:
        self.errors.append((packet.pts, error))

    def _skipped_regions(self) -> list[tuple[int, int]]:
        """Byte ranges ``(start, end)`` between packets that framing does not explain, and packets of one stream
        that overlap the next one (a packet cut short: the demuxer resynchronised inside it)."""
        spans = sorted(self.spans)
        holes = [(p + n, q, n) for (p, n, _), (q, _, _) in zip(spans, spans[1:])]
        if not holes:
            return []
        overlaps = []
        for index in {i for _, _, i in spans}:
            own = [(p, n) for p, n, i in spans if i == index]
            overlaps += [(q, p + n) for (p, n), (q, _) in zip(own, own[1:]) if q < p + n]
        typical = float(np.median([q - start for start, q, _ in holes]))
        return overlaps + [(start, q) for start, q, n in holes
                           if q - start > self._FRAMING_BYTES + self._FRAMING_FACTOR * typical + self._FRAMING_FRACTION * n]

    def losses(self, stream: Any, fps: Fraction) -> list[tuple[int, str]]:
        """``(frames, phrase)`` per place frames were lost (how many, and where); empty when every frame arrived."""
        tb = stream.time_base or Fraction(1, 90000)
        nominal = max(1, round(1 / (float(fps) * float(tb))))
        out = []
        regions = self._skipped_regions()
        if regions and self.video:
            video = sorted(self.video)
            for (pts, dur, _), (next_pts, _, _) in zip(video, video[1:]):
                missing = round((next_pts - pts) / (dur or nominal)) - 1
                if missing > 0:  # the file is damaged: a timestamp hole is frames the demuxer skipped
                    out.append((missing, f"{missing} lost at {float(pts * tb):.2f}-{float(next_pts * tb):.2f} s"))
        for pts, err in self.errors:
            where = f"{float(pts * tb):.2f} s" if pts is not None else "an unknown time"
            out.append((1, f"1 undecodable at {where} ({getattr(err, 'strerror', None) or err})"))
        return out


class VideoReader:
    """Decodes a video file to RGB :class:`Frame` objects, in a background thread by default."""

    def __init__(self, path: str | os.PathLike, *, dtype: Dtype = "uint8", threaded: bool = True,
                 queue_size: int = 8, info: VideoInfo | None = None, allow_truncated: bool = False):
        self.info = info or _probe_video(str(path))
        self.allow_truncated = allow_truncated
        self._out16 = want_uint16(dtype, self.info.bit_depth)
        self.frames_read = 0
        self._pump: Prefetcher[Frame] = Prefetcher(self._decode, threaded=threaded, queue_size=queue_size,
                                                     name=f"vsrkit-decode:{Path(path).name}")

    def _decode(self) -> Iterator[Frame]:
        path = self.info.path
        container = _open_input(path)
        n = 0
        audit = _StreamAudit()
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame + slice threads: decoding must keep up with the model
            fps = self.info.fps
            last_t = self.info.start_time

            def emit(frames: Any) -> Iterator[Frame]:
                nonlocal n, last_t
                for frame in frames:
                    t = float(frame.time) if frame.time is not None else self.info.start_time + n / float(fps)
                    yield Frame(_frame_to_rgb(frame, self.info, self._out16), n, t)
                    n += 1
                    last_t = max(last_t, t)

            # Demux every stream (their byte positions show where the demuxer skipped damaged data) and decode the
            # video packets one by one, so an error in the middle costs that packet, not the rest of the file.
            try:
                for packet in container.demux():
                    audit.packet(packet, packet.stream.index == stream.index)
                    if packet.stream.index != stream.index:
                        continue
                    try:
                        yield from emit(packet.decode())
                    except av.error.FFmpegError as e:
                        audit.decode_error(packet, e)
                try:
                    yield from emit(stream.decode(None))  # flush frames still inside the decoder
                except av.error.EOFError:
                    pass
            except av.error.FFmpegError as e:  # the demuxer gave up: the rest of the file is lost
                audit.stopped = e
            if n == 0:
                err = audit.stopped or (audit.errors[0][1] if audit.errors else None)
                if err is not None:
                    raise VsrkitError(f"input '{path}' could not be decoded ({getattr(err, 'strerror', None) or err}): "
                                      "the file is corrupt or truncated; re-export it") from None
                raise VsrkitError(f"input '{path}' contains no decodable frames: check the file or re-export it")
            loss = audit.losses(stream, fps)
            if loss:
                self._truncated(f"{sum(k for k, _ in loss)} frames are missing ({'; '.join(p for _, p in loss)})", n,
                                damaged=True)
            if audit.stopped is not None:
                self._truncated(f"frames after {last_t:.2f} s are missing: reading stopped after {n} frames "
                                f"({audit.stopped.strerror or audit.stopped})", n)
            # Never lose frames silently: compare with what the container announces (the frame count, else the
            # duration; with audio beside the video the container duration may legitimately run a little longer).
            expected = stream.frames
            if expected and n < expected:
                self._truncated(f"{expected - n} frames are missing (decoded {n} but the container announces "
                                f"{expected})", n)
            elif not expected:
                # Only the video stream's own duration is conclusive; a container duration may include audio or
                # subtitles that legitimately outlast the video, so there only a large shortfall is an error.
                dur, conclusive = _tagged_duration(stream), True  # Matroska: the video's own length, when tagged
                if dur is None and stream.duration is not None and stream.time_base is not None:
                    dur = float(stream.duration * stream.time_base)
                elif dur is None and container.duration is not None:
                    dur = container.duration / av.time_base
                    # conclusive when no other stream delivered data that could run longer than the video
                    conclusive = {i for _, _, i in audit.spans} <= {stream.index}
                covered = last_t - self.info.start_time + 1.0 / float(fps)  # timestamps, so VFR counts right
                if dur is not None and covered < dur - 0.5 / float(fps):
                    lost = max(1, round((dur - covered) * float(fps)))
                    what = (f"about {lost} frames are missing (decoded {n} frames covering {covered:.2f} s, but the "
                            f"container announces {dur:.2f} s)")
                    if conclusive or covered < 0.5 * dur:
                        self._truncated(what, n)
                    else:
                        log.warning("%s: %s (other streams may run longer than the video)", path, what)
        finally:
            container.close()

    def _truncated(self, what: str, n: int, *, damaged: bool = False) -> None:
        """A truncated or damaged input is an error (frames would be lost silently) unless the caller accepts it."""
        state = "is damaged" if damaged else "looks truncated"
        if not self.allow_truncated:
            raise VsrkitError(f"input '{self.info.path}' {state}: {what}; re-export it, or pass "
                              "--allow-truncated to process the frames that decode")
        log.warning("%s %s: %s - continuing with the %d frames that decode (--allow-truncated)", self.info.path,
                    state, what, n)

    def __iter__(self) -> Iterator[Frame]:
        for f in self._pump:
            self.frames_read += 1
            yield f

    def close(self) -> None:
        self._pump.close()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_reader(path: str | os.PathLike, *, dtype: Dtype = "uint8", threaded: bool = True, queue_size: int = 8,
                fps: float | Fraction | None = None, allow_truncated: bool = False) -> FrameReader:
    """Open a video file (any container FFmpeg reads) or a folder of PNG/JPG frames for streaming reads.

    ``dtype='auto'`` gives uint16 (full 16-bit scale) for >8-bit sources and uint8 otherwise. ``fps`` applies to
    frame folders only.
    """
    p = Path(path)
    if p.is_dir():
        from vsrkit.io.frames import FolderReader

        return FolderReader(p, dtype=dtype, threaded=threaded, queue_size=queue_size, fps=fps)
    return VideoReader(p, dtype=dtype, threaded=threaded, queue_size=queue_size, allow_truncated=allow_truncated)


# ---------------------------------------------------------------------------------------------------- writing


def _code_of(table: dict[int, str], name: str) -> int:
    """The FFmpeg code of tag ``name`` in one of :data:`PRIMARIES` / :data:`TRANSFERS` / :data:`MATRIX_TAGS`."""
    return next(code for code, n in table.items() if n == name)


def _encoding_tag(key: str) -> bool:
    """Container/stream tags that describe how the source was encoded or muxed, not what it is (not copied)."""
    k = key.lower()
    return k in {"encoder", "major_brand", "minor_version", "compatible_brands", "duration", "handler_name",
                 "vendor_id"} or k.startswith(("number_of_", "_statistics", "bps", "statistics"))


def _encoder_format(codec: str) -> str | None:
    """The format (FFmpeg codec name, e.g. ``h264``) encoder ``codec`` writes; None when this build lacks it."""
    try:
        return av.codec.Codec(codec, "w").canonical_name
    except Exception:  # noqa: BLE001 - av raises several types for unknown codecs
        return None


def default_codec(suffix: str, transfer: str | None = None) -> str:
    """The video encoder used when the user names none: the container's usual one (:data:`_CONTAINERS`: H.264 for
    .mp4/.mkv/.mov, VP9 for .webm, MPEG-2 for .mpg), except that an HDR source (PQ or HLG ``transfer``) goes to
    libx265 where the container holds it, because HDR10 and HLG are defined on HEVC Main10 and that is where players
    honour them."""
    suffix = suffix.lower()
    codec = _CONTAINERS.get(suffix, "libx264")
    fits = _CONTAINER_CODECS.get(suffix, _ANY_CODEC)
    if transfer in HDR_TRANSFERS and codec == "libx264" and (fits is _ANY_CODEC or "hevc" in fits) \
            and _encoder_format("libx265") is not None:
        return "libx265"
    return codec


def check_codec_fits(codec: str, suffix: str) -> None:
    """One-line error when container ``suffix`` cannot hold video encoder ``codec``, naming the encoders of this
    FFmpeg build that fit."""
    fits = _CONTAINER_CODECS.get(suffix.lower(), _ANY_CODEC)
    fmt = _encoder_format(codec)
    if fits is _ANY_CODEC or fmt is None or fmt in fits:
        return  # unavailable encoders get their own message from the writer
    usable = [e for f in fits for e in _ENCODERS.get(f, ()) if _encoder_format(e) is not None]
    raise VsrkitError(f"container '{suffix}' cannot hold video codec '{codec}' ({fmt}): use one of "
                      f"{', '.join(usable)} (or drop -c to get the container's default), or write .mkv, which holds "
                      "any codec")


def _chroma_of(fmt: av.VideoFormat) -> str:
    """'420', '422', '444' (also for RGB and gray, which have full-resolution planes) or '440'/'411'/'410'."""
    if fmt.is_rgb or len(fmt.components) < 3:
        return "444"
    probe_fmt = av.VideoFormat(fmt.name, 4, 4)
    w, h = probe_fmt.components[1].width, probe_fmt.components[1].height
    return {(4, 4): "444", (2, 4): "422", (2, 2): "420", (4, 2): "440", (1, 4): "411", (1, 1): "410"}.get((w, h),
                                                                                                        "420")


def output_pix_fmt(codec: str, source: VideoInfo | None) -> tuple[str, str | None]:
    """Pixel format for an output with no ``--pix-fmt``, and a note when the source's depth or chroma cannot be kept.

    A YUV source keeps its chroma subsampling and bit depth (ProRes 4:2:2 10-bit stays ``yuv422p10le``; 8-bit 4:2:0
    stays ``yuv420p``); RGB sources (frame folders, ``gbrp``) get 4:2:0 at their depth, capped at 10 bits for 16-bit
    PNGs, since 4:4:4 and 16-bit video play almost nowhere. When the encoder cannot hold that format the next
    deeper depth of the same chroma is used, then a shallower one, then 4:2:0.
    """
    if source is None:
        return "yuv420p", None
    fmt = av.VideoFormat(source.pix_fmt)
    rgb_like = fmt.is_rgb or len(fmt.components) < 3 or source.is_folder
    chroma = "420" if rgb_like else _chroma_of(fmt)
    depth = min(source.bit_depth, 10) if rgb_like else source.bit_depth
    try:
        supported = {f.name for f in (av.codec.Codec(codec, "w").video_formats or [])}
    except Exception:  # noqa: BLE001 - the writer reports unknown encoders
        return "yuv420p", None

    def name(c: str, d: int) -> str:
        return f"yuv{c}p" if d <= 8 else f"yuv{c}p{d}le"

    depths = [8, 9, 10, 12, 14, 16]
    order = [d for d in depths if d >= depth] + [d for d in reversed(depths) if d < depth]
    for c in dict.fromkeys((chroma, "420")):
        for d in order:
            if name(c, d) in supported or (not supported and (c, d) == ("420", 8)):
                note = None
                if d < depth or c != chroma:
                    note = (f"encoder '{codec}' cannot keep the source's {chroma} chroma at {depth} bits: writing "
                            f"{name(c, d)} (pass -c/--pix-fmt to choose, e.g. -c libx265 or ffv1 in .mkv)")
                return name(c, d), note
    return "yuv420p", None


class VideoWriter(atomic.AtomicWriter):
    """Encodes RGB frames to a video file atomically, copying audio/subtitles from a source file.

    Frames go through a bounded queue to an encoder thread. The file is written under a hidden temporary sibling and
    renamed in :meth:`close`; :meth:`abort` (or an exception inside ``with``) deletes it.

    ``codec=None`` picks the container's usual codec (libx264; libvpx-vp9 for .webm; mpeg2video for .mpg).
    ``copy_streams_from`` names a file whose audio and subtitle streams are remuxed (not re-encoded); streams the
    container cannot hold are skipped with a warning. If fewer frames are written than the source video holds (a
    preview), copied streams are cut at the end of the written video.
    """

    def __init__(self, path: str | os.PathLike, *, fps: float | Fraction, width: int, height: int,
                 codec: str | None = None, crf: int = 18, preset: str = "medium", pix_fmt: str = "yuv420p",
                 copy_streams_from: str | os.PathLike | None = None, overwrite: bool = False,
                 color_matrix: str = "bt709", color_range: str = "tv", threaded: bool = True, queue_size: int = 8,
                 options: dict[str, str] | None = None, rotation: int = 0,
                 sample_aspect_ratio: Fraction | None = None, color_primaries: str | None = None,
                 color_transfer: str | None = None, color_space: str | None = None,
                 metadata_from: str | os.PathLike | None = None):
        self.path = outputs.check_output(path, overwrite=overwrite, inputs=(copy_streams_from,), kind="file")
        self._overwrite = overwrite
        suffix = self.path.suffix.lower()
        if suffix not in _CONTAINERS:
            raise VsrkitError(f"cannot write '{self.path.name}': unsupported extension '{suffix or '(none)'}'; use "
                              f"one of {', '.join(sorted(_CONTAINERS))} or a folder name without suffix for PNGs")
        codec = codec or default_codec(suffix, color_transfer)
        check_codec_fits(codec, suffix)
        if color_matrix not in _OUT_TAGS:
            raise VsrkitError(f"unsupported output colour matrix {color_matrix!r}: use one of {', '.join(_OUT_TAGS)}")
        if color_range not in _RANGE:
            raise VsrkitError(f"unsupported colour range {color_range!r}: use 'tv' or 'pc'")
        self.fps = Fraction(fps).limit_denominator(1_000_000)
        if self.fps <= 0:
            raise VsrkitError(f"frame rate {fps} is not positive: pass a valid --fps")
        self.width, self.height = int(width), int(height)
        self._validate_codec(codec, pix_fmt, suffix)
        self.frames_written = 0
        self._queued = 0  # frames handed to the encoder thread
        self._matrix, self._range = color_matrix, color_range
        self._tags = self._colour_tags(color_matrix, color_primaries, color_transfer, color_space)
        self._metadata_from = metadata_from if metadata_from is not None else copy_streams_from
        self.rotation = int(rotation) % 360
        if self.rotation % 90:
            raise VsrkitError(f"display rotation {rotation} is not a multiple of 90 degrees")
        self.sample_aspect_ratio = Fraction(sample_aspect_ratio) if sample_aspect_ratio else None
        self._src: Any = None
        self._tmp: Path | None = atomic.temp_file_for(self.path)
        self._closed = False
        try:  # everything after the temp file exists: an exception anywhere (even SIGTERM) removes it
            self._open(codec, crf, preset, pix_fmt, suffix, options or {}, copy_streams_from)
            self._worker: Worker[tuple[np.ndarray, float | None]] = Worker(
                self._encode_one, threaded=threaded, queue_size=queue_size, name=f"vsrkit-encode:{self.path.name}")
        except BaseException:
            self._cleanup()
            raise

    # -- setup --------------------------------------------------------------------------------------------------

    @staticmethod
    def _colour_tags(matrix: str, primaries: str | None, transfer: str | None,
                     space: str | None) -> tuple[int, int, int]:
        """(AVColorSpace, AVColorPrimaries, AVColorTransferCharacteristic) codes to write: the given FFmpeg names,
        else the defaults of ``matrix``. A ``space`` tag must name the matrix the pixels are converted with."""
        spc, prim, trc = _OUT_TAGS[matrix]
        for value, table, what in ((primaries, PRIMARIES, "primaries"), (transfer, TRANSFERS, "transfer"),
                                   (space, MATRIX_TAGS, "matrix")):
            if value is not None and value not in table.values():
                raise VsrkitError(f"unknown colour {what} {value!r}: use one of {', '.join(table.values())}")
        prim = _code_of(PRIMARIES, primaries) if primaries else prim
        trc = _code_of(TRANSFERS, transfer) if transfer else trc
        if space and _AVCOL_SPC.get(_code_of(MATRIX_TAGS, space)) == matrix:
            spc = _code_of(MATRIX_TAGS, space)
        return spc, prim, trc

    def _validate_codec(self, codec: str, pix_fmt: str, suffix: str) -> None:
        try:
            c = av.codec.Codec(codec, "w")
        except Exception:  # noqa: BLE001 - av raises several types for unknown codecs
            raise VsrkitError(f"video encoder '{codec}' is not available in this FFmpeg build: choose another "
                              "--codec (e.g. libx264)") from None
        try:
            fmt = av.VideoFormat(pix_fmt)
        except Exception:  # noqa: BLE001
            raise VsrkitError(f"unknown pixel format '{pix_fmt}': use e.g. yuv420p, yuv444p or yuv420p10le") from None
        supported = [f.name for f in (c.video_formats or [])]
        if supported and pix_fmt not in supported:
            raise VsrkitError(f"encoder '{codec}' does not support pixel format '{pix_fmt}': use one of "
                              f"{', '.join(supported[:8])}")
        if len(fmt.components) >= 3 and not fmt.is_rgb:
            probe_fmt = av.VideoFormat(pix_fmt, 4, 4)
            sub_w = 4 // max(1, probe_fmt.components[1].width)
            sub_h = 4 // max(1, probe_fmt.components[1].height)
            if self.width % sub_w or self.height % sub_h:
                raise VsrkitError(f"{self.width}x{self.height} cannot be encoded as {pix_fmt} (needs width/height "
                                  f"divisible by {sub_w}/{sub_h}): pass --pix-fmt yuv444p or pad/crop to an even size")

    def _open(self, codec: str, crf: int, preset: str, pix_fmt: str, suffix: str, options: dict[str, str],
              copy_from: str | os.PathLike | None) -> None:
        self._out = av.open(str(self._tmp), mode="w")
        opts = {}
        if codec in _CRF_CODECS:
            opts["crf"] = str(crf)
        if codec in ("libx264", "libx265"):
            opts["preset"] = preset
        if codec == "libx264" and suffix == ".avi":
            opts["bf"] = "0"  # AVI has no presentation timestamps: B-frame reordering would shift frame times
        if codec == "libx265":
            opts["x265-params"] = "log-level=error"
        if codec in ("libvpx", "libvpx-vp9"):
            opts.update({"b": "0" if codec == "libvpx-vp9" else "50M", "deadline": "good", "cpu-used": "4",
                         "row-mt": "1"})
        opts.update(options)
        s = self._out.add_stream(codec, rate=self.fps, options=opts)
        cc = s.codec_context
        cc.width, cc.height, cc.pix_fmt = self.width, self.height, pix_fmt
        if codec not in _CRF_CODECS and "b" not in options:
            # No constant-quality mode: give a generous bitrate (~0.3 bit/pixel) so quality is not the bottleneck.
            cc.bit_rate = int(min(self.width * self.height * float(self.fps) * 0.3, 200e6))
        if codec in _FRAME_GRID_CODECS or suffix in _FRAME_GRID_SUFFIXES:
            self._ticks = 1
        else:
            self._ticks = _TICKS_PER_FRAME
        self._time_base = 1 / (self.fps * self._ticks)
        cc.time_base = self._time_base
        s.time_base = self._time_base
        spc, prim, trc = self._tags
        cc.colorspace, cc.color_primaries, cc.color_trc = spc, prim, trc
        cc.color_range = int(_RANGE[self._range])
        cc.field_order = 1  # progressive: interlaced input is refused or deinterlaced, never passed through
        cc.thread_count = 0
        if self.sample_aspect_ratio is not None:
            cc.sample_aspect_ratio = self.sample_aspect_ratio
        if self.rotation:
            if hasattr(s, "set_display_rotation"):
                s.set_display_rotation(self.rotation)
            else:
                log.warning("this PyAV (%s) cannot tag the display rotation (%d degrees): '%s' will play unrotated; "
                            "upgrade with pip install -U av", av.__version__, self.rotation, self.path)
        self._stream = s
        self._pix_fmt = pix_fmt
        self._last_pts = -1
        self._t0: float | None = None
        self._copies: list[tuple[Any, Any]] = []
        self._copy_iter: Any = None
        self._pending: Any = None
        self._chapters: list[dict] = []
        if copy_from is not None:
            self._open_copies(str(copy_from))
        if self._metadata_from is not None:
            self._copy_metadata(str(self._metadata_from))

    def _copy_metadata(self, src_path: str) -> None:
        """Container tags (title, ...), the video stream's language/title/disposition, the copied streams' tags and
        dispositions, and chapters (written with the first frame, shifted like the video) from ``src_path``.

        Tags that describe the source's own encoding (encoder, brands, per-stream DURATION/statistics) are left out.
        """
        with _open_input(src_path) as src:
            self._out.metadata.update({k: v for k, v in src.metadata.items() if not _encoding_tag(k)})
            pairs = [(src.streams.video[0], self._stream)] if src.streams.video else []
            originals = {s.index: s for s in list(src.streams.audio) + list(src.streams.subtitles)}
            pairs += [(originals[s.index], out_s) for s, out_s in self._copies]
            for source, out_s in pairs:
                out_s.metadata.update({k: v for k, v in source.metadata.items() if not _encoding_tag(k)})
                try:
                    out_s.disposition = source.disposition
                except (AttributeError, TypeError, ValueError):  # PyAV before 13 cannot set dispositions
                    pass
            try:
                self._chapters = list(src.chapters())
            except (AttributeError, av.error.FFmpegError):  # older PyAV: no chapter access
                self._chapters = []

    def _write_chapters(self, offset: float) -> None:
        """Set the source's chapters, moved by ``offset`` seconds (the source time of the first output frame)."""
        chapters = []
        for ch in self._chapters:
            tb = ch["time_base"]
            shift = round(Fraction(offset).limit_denominator(1_000_000) / tb)
            start, end = ch["start"] - shift, ch["end"] - shift
            if end <= 0:
                continue
            chapters.append({**ch, "id": len(chapters) + 1, "start": max(start, 0), "end": end})
        if chapters:
            try:
                self._out.set_chapters(chapters)
            except (AttributeError, av.error.FFmpegError, ValueError) as e:
                log.warning("not copying chapters to %s: %s", self.path, e)
        self._chapters = []

    def _open_copies(self, src_path: str) -> None:
        self._src = _open_input(src_path)
        for s in list(self._src.streams.audio) + list(self._src.streams.subtitles):
            name = s.codec_context.name if s.codec_context is not None else None
            if name is None or name not in self._out.supported_codecs:
                log.warning("not copying %s stream #%d (%s) from %s: the %s container cannot hold it; use .mkv to "
                            "keep it", s.type, s.index, name, src_path, self.path.suffix)
                continue
            try:
                out_s = self._out.add_stream_from_template(s)
            except Exception as e:  # noqa: BLE001
                log.warning("not copying %s stream #%d from %s: %s", s.type, s.index, src_path, e)
                continue
            self._copies.append((s, out_s))
        # Where the source's video starts: copied streams are shifted by the same amount as the video.
        vs = self._src.streams.video
        self._src_video_start = 0.0
        self._src_video_end: float | None = None
        if vs and vs[0].start_time is not None and vs[0].time_base is not None:
            self._src_video_start = float(vs[0].start_time * vs[0].time_base)
        if vs and vs[0].duration is not None and vs[0].time_base is not None:
            self._src_video_end = self._src_video_start + float(vs[0].duration * vs[0].time_base)
        elif self._src.duration is not None:
            self._src_video_end = self._src.duration / av.time_base
        self._copy_iter = self._src.demux([s for s, _ in self._copies]) if self._copies else None

    # -- encoding (runs in the worker thread) --------------------------------------------------------------------

    def _encode_one(self, item: tuple[np.ndarray | None, float | None]) -> None:
        arr, t = item
        if arr is None:  # end of stream: flush the encoder here, in the thread that owns the codec context
            for packet in self._stream.encode(None):
                self._out.mux(packet)
            return
        frame = av.VideoFrame.from_ndarray(arr, format="rgb24" if arr.dtype == np.uint8 else _RGB48)
        frame = frame.reformat(format=self._pix_fmt, dst_colorspace=_SWS_CS[self._matrix],
                               dst_color_range=_RANGE[self._range])
        if t is not None and self._t0 is None:
            self._t0 = t
        if self.frames_written == 0 and self._chapters:  # before the header is written with the first packet
            self._write_chapters(self._t0 or 0.0)
        pts = self.frames_written * self._ticks if t is None else round((t - self._t0) / self._time_base)
        if pts <= self._last_pts:
            pts = self._last_pts + 1  # timestamps must increase; a collision after rounding moves by one tick
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = self._time_base
        for packet in self._stream.encode(frame):
            self._out.mux(packet)
        self.frames_written += 1
        self._mux_copies(until=float(pts * self._time_base))

    def _mux_copies(self, until: float | None) -> None:
        """Remux source packets up to output time ``until`` (None: all), keeping audio interleaved with video."""
        if self._copy_iter is None:
            return
        offset = self._src_video_start if self._t0 is None else self._t0
        streams = {s.index: o for s, o in self._copies}
        while True:
            if self._pending is None:
                try:
                    self._pending = next(self._copy_iter)
                except StopIteration:
                    self._copy_iter = None
                    return
            pkt = self._pending
            if pkt.dts is None and pkt.pts is None:  # flush packets carry no data
                self._pending = None
                continue
            ts = pkt.pts if pkt.pts is not None else pkt.dts
            t = float(ts * pkt.time_base) - offset
            if until is not None and t > until:
                return
            self._pending = None
            if self._t0 is not None and self._t0 > self._src_video_start + 1e-6 \
                    and t + float((pkt.duration or 0) * pkt.time_base) <= 0:
                continue  # a preview that starts later: source audio before its start is not copied
            shift = round(offset / pkt.time_base)
            if pkt.pts is not None:
                pkt.pts -= shift
            if pkt.dts is not None:
                pkt.dts -= shift
            pkt.stream = streams[pkt.stream.index]
            self._out.mux(pkt)

    # -- public --------------------------------------------------------------------------------------------------

    def write(self, frame: np.ndarray, time: float | None = None) -> None:
        """Queue one (H, W, 3) uint8/uint16 RGB frame; ``time`` (seconds) keeps the source timestamp."""
        if self._closed:
            raise VsrkitError(f"writer for '{self.path}' is closed: open a new writer")
        check_frame(frame, self.width, self.height)
        self._worker.put((np.ascontiguousarray(frame), time))
        self._queued += 1

    def close(self) -> None:
        """Flush the encoder, copy the remaining audio/subtitles and move the file into place."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._queued:
                # The flush runs in the encoder thread too: the codec context is never used from two threads
                # (issue 13: an intermittent segfault in the 10-bit libx265 flush; see the commit message).
                self._worker.put((None, None))
            self._worker.finish()
            if self.frames_written == 0:
                raise VsrkitError(f"no frames were written to '{self.path}': the input produced zero frames")
            if self._copy_iter is not None:
                end = float((self._last_pts + self._ticks) * self._time_base)
                src_end = None if self._src_video_end is None else self._src_video_end - self._src_video_start
                # A full-length output keeps audio tails; a shorter one (preview) cuts copied streams at its end.
                full = src_end is None or end >= src_end - 1.5 / float(self.fps)
                self._mux_copies(until=None if full else end)
            self._out.close()
            self._out = None
            if self._src is not None:
                self._src.close()
                self._src = None
            atomic.commit(self._tmp, self.path, overwrite=self._overwrite)
            self._tmp = None
        except BaseException:
            self._cleanup()
            raise

    def abort(self) -> None:
        """Stop encoding and delete the temporary file; the final path is never touched."""
        if not self._closed:
            self._closed = True
            try:
                self._worker.finish(discard=True)
            except BaseException:  # noqa: BLE001 - aborting: the original error is what matters
                pass
        self._cleanup()

    def _cleanup(self) -> None:
        for c in (getattr(self, "_out", None), self._src):
            if c is not None:
                try:
                    c.close()
                except Exception:  # noqa: BLE001 - a half-written container may fail to finalise
                    pass
        self._out = self._src = None
        atomic.discard(self._tmp)
        self._tmp = None


def open_writer(path: str | os.PathLike, *, like: VideoInfo | None = None, **kw: Any) -> "VideoWriter | Any":
    """Open a :class:`VideoWriter` (path with a video suffix) or a FrameFolderWriter (no suffix or existing dir).

    ``like`` supplies fps, size, colour matrix, display rotation and pixel aspect ratio defaults (explicit keywords
    win) and, for video sources, the colour tags (primaries, transfer, matrix, range), the file to copy
    audio/subtitles from (pass ``copy_streams_from=None`` to drop them) and the one to copy container/stream tags and
    chapters from (``metadata_from``). ``codec=None`` / ``pix_fmt=None`` (or absent) choose them from the container
    and the source (:func:`default_codec`, :func:`output_pix_fmt`). The output must not be ``like.path``. Frame folders hold the stored (unrotated) pixels; a rotated source is said once in the log.
    """
    p = Path(path)
    inputs = (like.path if like else None,)
    if p.suffix == "" or p.is_dir():
        from vsrkit.io.frames import FrameFolderWriter

        outputs.check_output(p, overwrite=kw.get("overwrite", False), inputs=inputs, kind="folder")
        allowed = {"overwrite", "threaded", "queue_size", "compression"}
        if like is not None and like.rotation:
            log.warning("%s is displayed rotated by %d degrees; the PNG frames in '%s' hold the stored, unrotated "
                        "pixels (write a video to keep the rotation tag)", like.path, like.rotation, p)
        return FrameFolderWriter(p, **{k: v for k, v in kw.items() if k in allowed})
    if like is not None:
        kw.setdefault("fps", like.fps)
        kw.setdefault("width", like.width)
        kw.setdefault("height", like.height)
        if like.color_matrix in _OUT_TAGS:
            kw.setdefault("color_matrix", like.color_matrix)
        kw.setdefault("rotation", like.rotation)
        kw.setdefault("sample_aspect_ratio", like.sample_aspect_ratio)
        if not like.is_folder and (like.has_audio or like.has_subtitles):
            kw.setdefault("copy_streams_from", like.path)
        if not like.is_folder:
            kw.setdefault("metadata_from", like.path)
            if like.color_matrix != "rgb":  # a YUV source: its range and matrix tag; RGB sources default to tv
                kw.setdefault("color_range", like.color_range)
                kw.setdefault("color_space", like.color_space)
        kw.setdefault("color_primaries", like.color_primaries)
        kw.setdefault("color_transfer", like.color_transfer)
    for key in ("fps", "width", "height"):
        if key not in kw:
            raise VsrkitError(f"writer for '{p}' needs {key}: pass like=<input info> or {key}=...")
    if kw.get("codec") is None:
        kw["codec"] = default_codec(p.suffix, kw.get("color_transfer"))
    if kw.get("pix_fmt") is None:
        kw["pix_fmt"], note = output_pix_fmt(kw["codec"], like)
        if note:
            log.warning("%s: %s", p, note)
    outputs.check_output(p, overwrite=kw.get("overwrite", False), inputs=inputs, kind="file")
    return VideoWriter(p, **kw)
