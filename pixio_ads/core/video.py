"""MP4 files: H.264 (yuv420p) with the index at the front, AAC audio, XMP; read back.

PyAV's wheels bundle FFmpeg (libx264, the native AAC encoder), so nothing is installed beside
Python. A clip is written frame by frame (a 30 s 1080x1920 clip is 900 frames, 5.6 GB as
pixels: never held whole) to a temporary name in the destination's folder, moved to the front
(``movflags=+faststart``: a platform's player starts before the whole file has arrived), and
renamed when whole: a run killed mid-clip leaves no half-written MP4 under the final name.

Encoding follows YouTube's recommended upload settings (support.google.com/youtube/answer/1722171,
cited in docs/outputs.md; Meta and TikTok take the same files): MP4 with the moov atom at the
front, H.264 High profile, 4:2:0, 2 consecutive B-frames, a closed GOP of half the frame rate,
about 8 Mbps for 1080p at 24-30 fps (scaled by the pixel count and frame rate, never under
2 Mbps); audio AAC-LC stereo at 48 kHz, 384 kbps.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

BITRATE_1080P30 = 8_000_000  # bits/s at 1920 x 1080 x 30 fps
MIN_BITRATE = 2_000_000
AUDIO_BITRATE = 384_000
AUDIO_RATE = 48_000
# XMP in an MP4: a top-level 'uuid' box with this UUID (XMP Specification Part 3, 1.2.7.1)
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")


class VideoError(ValueError):
    """An audio or video file that cannot be read (its name and what is wrong)."""


def bitrate_for(width: int, height: int, fps: int) -> int:
    """Video bits/s for a clip of this size and frame rate (see the module's docstring)."""
    scaled = BITRATE_1080P30 * (width * height) / (1920 * 1080) * (fps / 30)
    return int(max(MIN_BITRATE, round(scaled, -4)))


@dataclass(frozen=True, slots=True)
class Clip:
    width: int
    height: int
    fps: int
    frames: int  # how many frames the caller will write
    bitrate: int = 0  # 0: bitrate_for(...)
    preset: str = "veryfast"  # libx264's speed/size trade; the bitrate fixes the size
    threads: int = 0  # encoder threads (0: FFmpeg decides)


def write_mp4(
    path: Path, clip: Clip, frames: Iterable[np.ndarray], audio: str | None = None, xmp: bytes | None = None
) -> None:
    """Encode ``frames`` (RGB uint8, (height, width, 3), or I420 planes from :func:`rgb_to_i420`)
    into ``path`` atomically; ``audio``: a file whose sound is laid under the clip (cut to its
    length, faded out over the last half second); ``xmp``: a packet put in a top-level uuid box."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.stem}.*.mp4.part"):  # a clip of a killed run (the folder is locked)
        stale.unlink(missing_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".mp4.part", dir=path.parent)
    os.close(handle)
    try:
        with av.open(temp, "w", format="mp4", options={"movflags": "+faststart"}) as container:
            video = _video_stream(container, clip)
            sound = _audio_stream(container) if audio else None
            for index, pixels in enumerate(frames):
                frame = _video_frame(pixels)
                frame.pts = index
                container.mux(video.encode(frame))
            container.mux(video.encode())
            if sound is not None:
                _mux_audio(container, sound, audio, clip.frames / clip.fps)
        if xmp is not None:
            with open(temp, "ab") as file:  # after moov and mdat: no chunk offset moves
                file.write(_uuid_box(XMP_UUID, xmp))
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)


def _video_stream(container, clip: Clip):
    stream = container.add_stream("libx264", rate=clip.fps)
    stream.width, stream.height, stream.pix_fmt = clip.width, clip.height, "yuv420p"
    stream.bit_rate = clip.bitrate or bitrate_for(clip.width, clip.height, clip.fps)
    stream.codec_context.gop_size = max(1, clip.fps // 2)
    stream.codec_context.time_base = Fraction(1, clip.fps)
    if clip.threads:
        stream.codec_context.thread_count = clip.threads
    # High profile, BT.709 tagged as the frames are converted (rgb_to_i420), VBV capped at twice
    # the average so a busy second does not spike past what a platform's player buffers.
    stream.options = {
        "preset": clip.preset,
        "profile": "high",
        "maxrate": str(2 * stream.bit_rate),
        "bufsize": str(4 * stream.bit_rate),
        "x264-params": "colorprim=bt709:transfer=bt709:colormatrix=bt709:range=tv:bframes=2:open-gop=0",
    }
    return stream


# BT.709 studio range (ITU-R BT.709-6): Y' in 16-235, Cb and Cr in 16-240, from R'G'B' 0-255.
_KR, _KB = 0.2126, 0.0722
_KG = 1 - _KR - _KB
_LUMA = np.array([[_KR, _KG, _KB, 0]], np.float32) * (219 / 255) + np.array([[0, 0, 0, 16]], np.float32)
_CHROMA = np.array(
    [
        [-_KR / (2 - 2 * _KB), -_KG / (2 - 2 * _KB), 0.5, 0],
        [0.5, -_KG / (2 - 2 * _KR), -_KB / (2 - 2 * _KR), 0],
    ],
    np.float32,
) * (224 / 255) + np.array([[0, 0, 0, 128]], np.float32)


def rgb_to_i420(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (even width and height) -> planar I420, BT.709 studio range, as one
    (height * 3 / 2, width) array: the layout libx264 takes. OpenCV's transforms (one
    matrix per pixel, saturating) cost a third of swscale's conversion here."""
    import cv2

    height, width = rgb.shape[:2]
    out = np.empty((height * 3 // 2, width), np.uint8)
    out[:height] = cv2.transform(rgb, _LUMA).reshape(height, width)
    half = cv2.resize(rgb, (width // 2, height // 2), interpolation=cv2.INTER_AREA)  # 4:2:0 siting: the 2x2 mean
    chroma = cv2.transform(half, _CHROMA)
    planes = out[height:].reshape(2, height // 2, width // 2)
    planes[0], planes[1] = chroma[..., 0], chroma[..., 1]
    return out


def _video_frame(pixels: np.ndarray):
    import av

    if pixels.ndim == 3:
        pixels = rgb_to_i420(pixels)
    frame = av.VideoFrame.from_ndarray(pixels, format="yuv420p")
    frame.color_range = 1  # MPEG (studio) range, as converted
    frame.colorspace = 1  # BT.709
    return frame


def _audio_stream(container):
    stream = container.add_stream("aac", rate=AUDIO_RATE)
    stream.bit_rate = AUDIO_BITRATE
    stream.layout = "stereo"
    return stream


def _mux_audio(container, stream, source: str, seconds: float) -> None:
    """The source's sound, resampled to the stream's rate and layout, cut at ``seconds`` and
    faded out over the last half second (a music bed ends with the picture, not mid-note)."""
    import av

    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
    fifo = av.AudioFifo()
    total, fade = round(seconds * AUDIO_RATE), round(min(0.5, seconds / 4) * AUDIO_RATE)
    written = 0
    for chunk in _decoded_audio(source):
        for frame in resampler.resample(chunk):
            fifo.write(frame)
        while fifo.samples >= 1024 and written < total:
            written = _encode_samples(container, stream, fifo.read(1024), written, total, fade)
    while written < total:  # a short source: the rest is silence
        frame = fifo.read() if fifo.samples else None
        samples = frame.to_ndarray() if frame is not None else np.zeros((2, 0), np.float32)
        samples = np.pad(samples, ((0, 0), (0, min(1024, total - written) - samples.shape[1])))
        silence = av.AudioFrame.from_ndarray(samples.astype(np.float32), format="fltp", layout="stereo")
        silence.sample_rate = AUDIO_RATE
        written = _encode_samples(container, stream, silence, written, total, fade)
    container.mux(stream.encode(None))


def _encode_samples(container, stream, frame, written: int, total: int, fade: int) -> int:
    """Encode one block of samples (trimmed at ``total``, faded over its last ``fade``);
    the count written after it."""
    import av

    samples = frame.to_ndarray()[:, : total - written].astype(np.float32)
    positions = written + np.arange(samples.shape[1])
    samples *= np.clip((total - positions) / max(fade, 1), 0, 1).astype(np.float32)
    block = av.AudioFrame.from_ndarray(np.ascontiguousarray(samples), format="fltp", layout="stereo")
    block.sample_rate, block.pts = AUDIO_RATE, written
    container.mux(stream.encode(block))
    return written + samples.shape[1]


def _decoded_audio(source: str) -> Iterator:
    import av

    try:
        with av.open(source) as container:
            if not container.streams.audio:
                raise VideoError(f"{source}: has no audio stream")
            yield from container.decode(audio=0)
    except av.FFmpegError as exc:
        raise VideoError(f"{source}: cannot be read as audio ({exc})") from None


def audio_seconds(path: str | Path) -> float:
    """The audio file's length in seconds; VideoError naming it when it is not audio at all
    (validate's check: decodes the first packets, not the whole file)."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise VideoError(f"{path}: has no audio stream")
            stream = container.streams.audio[0]
            next(container.decode(stream), None)  # one frame: the codec really decodes it
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            return float(container.duration or 0) / 1_000_000
    except av.FFmpegError as exc:
        raise VideoError(f"{path}: cannot be read as audio ({exc})") from None


def _uuid_box(uuid: bytes, payload: bytes) -> bytes:
    return (8 + 16 + len(payload)).to_bytes(4, "big") + b"uuid" + uuid + payload


@dataclass(frozen=True, slots=True)
class Probe:
    """What a decoder finds in an MP4."""

    width: int
    height: int
    fps: float
    frames: int
    seconds: float
    codec: str
    pix_fmt: str
    audio_codec: str  # "" without sound
    faststart: bool  # the index (moov) before the media data (mdat)


def probe(path: str | Path) -> Probe:
    import av

    boxes = top_level_boxes(Path(path))
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        frames = video.frames or sum(1 for _ in container.demux(video) if _.size)
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else ""
        return Probe(
            video.codec_context.width,
            video.codec_context.height,
            float(video.average_rate or 0),
            frames,
            float(container.duration or 0) / 1_000_000,
            video.codec_context.name,
            video.codec_context.pix_fmt or "",
            audio,
            boxes.index("moov") < boxes.index("mdat"),
        )


def top_level_boxes(path: Path) -> list[str]:
    """The MP4's top-level box types in file order (ftyp, moov, mdat, uuid ...)."""
    boxes, size = [], path.stat().st_size
    with open(path, "rb") as file:
        offset = 0
        while offset + 8 <= size:
            file.seek(offset)
            header = file.read(16)
            length, kind = int.from_bytes(header[:4], "big"), header[4:8].decode("latin-1")
            if length == 1:
                length = int.from_bytes(header[8:16], "big")
            elif length == 0:
                length = size - offset
            boxes.append(kind)
            offset += max(length, 8)
    return boxes


def read_frames(source, every: int = 1, limit: int | None = None) -> Iterator[np.ndarray]:
    """Every ``every``-th frame of ``source`` (a path or a binary file) as RGB uint8, converted
    with the matrix the stream is tagged with (BT.709 for ours; BT.601 for an untagged file)."""
    import av

    with av.open(str(source) if isinstance(source, (str, Path)) else source) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        count = 0
        for index, frame in enumerate(container.decode(stream)):
            if index % every:
                continue
            yield frame.to_ndarray(format="rgb24", src_colorspace=_colorspace(frame))
            count += 1
            if limit is not None and count >= limit:
                return


def _colorspace(frame) -> str:
    return "ITU709" if frame.colorspace == 1 else "ITU601"
