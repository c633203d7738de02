"""Real media made in-process (no ffmpeg or other binaries) for the emulators, tests and benchmarks.

Every maker is cached: tests ask for the same few clips over and over, and encoding is the slow part.
Callers get immutable ``bytes`` so sharing a cached result is safe.
"""

from __future__ import annotations

import io
from functools import lru_cache

import lameenc
import numpy as np
import soundfile
from mutagen.id3 import ID3, TIT2, TPE1
from mutagen.mp3 import MP3
from PIL import Image

__all__ = [
    "iter_mp3_frames",
    "make_big_mp3",
    "make_jpeg",
    "make_mp3",
    "make_ogg_opus",
    "make_silent_ogg_opus",
    "make_wav",
    "mp3_duration",
    "pad_mp3_to",
]

_AMPLITUDE = 0.35  # well below full scale so encoders never clip


def _sine(seconds: float, frequency: float, sample_rate: int) -> np.ndarray:
    """A mono float sine with a short fade at both ends, so clips start and stop without clicks."""
    count = max(1, round(seconds * sample_rate))
    t = np.arange(count, dtype=np.float64) / sample_rate
    wave = np.sin(2 * np.pi * frequency * t) * _AMPLITUDE
    fade = min(count // 2, sample_rate // 100)
    if fade:
        ramp = np.linspace(0.0, 1.0, fade)
        wave[:fade] *= ramp
        wave[-fade:] *= ramp[::-1]
    return wave


def _pcm16(wave: np.ndarray) -> bytes:
    return (wave * 32767).astype("<i2").tobytes()


def make_mp3(
    seconds: float,
    *,
    frequency: float = 440.0,
    bitrate: int = 128,
    sample_rate: int = 44100,
    tags: dict[str, str] | None = None,
) -> bytes:
    """A mono CBR MP3 of a sine tone; ``tags`` may set ``title`` and ``artist`` (ID3v2)."""
    frozen = tuple(sorted((tags or {}).items()))
    return _make_mp3(float(seconds), float(frequency), int(bitrate), int(sample_rate), frozen)


@lru_cache(maxsize=64)
def _make_mp3(
    seconds: float, frequency: float, bitrate: int, sample_rate: int, tags: tuple[tuple[str, str], ...]
) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(bitrate)
    encoder.set_in_sample_rate(sample_rate)
    encoder.set_channels(1)
    encoder.set_quality(7)  # fastest setting that still sounds like a tone; fidelity is irrelevant here
    audio = bytes(encoder.encode(_pcm16(_sine(seconds, frequency, sample_rate))) + encoder.flush())
    return _with_id3(audio, dict(tags)) if tags else audio


def _with_id3(audio: bytes, tags: dict[str, str]) -> bytes:
    unknown = set(tags) - {"title", "artist"}
    if unknown:
        raise ValueError(f"unsupported tags: {sorted(unknown)}")
    id3 = ID3()
    if "title" in tags:
        id3.add(TIT2(encoding=3, text=tags["title"]))
    if "artist" in tags:
        id3.add(TPE1(encoding=3, text=tags["artist"]))
    buffer = io.BytesIO(audio)
    id3.save(buffer)
    return buffer.getvalue()


@lru_cache(maxsize=16)
def make_ogg_opus(seconds: float, *, frequency: float = 440.0) -> bytes:
    """An Ogg/Opus clip at 48 kHz, the shape of a Telegram voice note."""
    buffer = io.BytesIO()
    soundfile.write(buffer, _sine(seconds, frequency, 48000), 48000, format="OGG", subtype="OPUS")
    return buffer.getvalue()


# One 20 ms Opus frame of silence (CELT, fullband, mono), as encoders emit in discontinuous transmission.
_OPUS_SILENCE = b"\xf8\xff\xfe"
_OPUS_PRE_SKIP = 312
_PACKETS_PER_PAGE = 250


@lru_cache(maxsize=4)
def make_silent_ogg_opus(seconds: float) -> bytes:
    """An Ogg/Opus voice note of ``seconds`` of silence, written page by page without an encoder.

    Silence costs three bytes per 20 ms, so an hour is under a megabyte: the small file that would take
    a decoder minutes and gigabytes (the granule positions say how long it is, as a real encoder's do).
    """
    head = b"OpusHead" + bytes([1, 1]) + _OPUS_PRE_SKIP.to_bytes(2, "little") + (48000).to_bytes(4, "little")
    head += b"\0\0\0"  # no output gain, channel mapping family 0
    vendor = b"audio_fixtures"
    tags = b"OpusTags" + len(vendor).to_bytes(4, "little") + vendor + (0).to_bytes(4, "little")
    pages = [_ogg_page([head], granule=0, sequence=0, flags=0x02), _ogg_page([tags], granule=0, sequence=1)]
    packets = max(2, round(seconds * 50))
    # At least two audio pages: libsndfile takes a stream of one for malformed.
    per_page = min(_PACKETS_PER_PAGE, (packets + 1) // 2)
    done = 0
    while done < packets:
        count = min(per_page, packets - done)
        done += count
        last = done == packets
        pages.append(
            _ogg_page(
                [_OPUS_SILENCE] * count,
                granule=_OPUS_PRE_SKIP + done * 960,
                sequence=len(pages),
                flags=0x04 if last else 0,
            )
        )
    return b"".join(pages)


def _ogg_page(packets: list[bytes], *, granule: int, sequence: int, flags: int = 0) -> bytes:
    """One Ogg page holding whole packets, each shorter than 255 bytes."""
    lacing = bytes(len(p) for p in packets)
    header = (
        b"OggS\0"
        + bytes([flags])
        + granule.to_bytes(8, "little")
        + (0x5EED).to_bytes(4, "little")
        + sequence.to_bytes(4, "little")
        + b"\0\0\0\0"
        + bytes([len(lacing)])
        + lacing
    )
    page = bytearray(header + b"".join(packets))
    page[22:26] = _ogg_crc(bytes(page)).to_bytes(4, "little")
    return bytes(page)


def _crc_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return table


_CRC_TABLE = _crc_table()


def _ogg_crc(data: bytes) -> int:
    """Ogg's CRC-32: polynomial 0x04C11DB7, not reflected, starting at zero."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[(crc >> 24) ^ byte]
    return crc


@lru_cache(maxsize=16)
def make_wav(seconds: float, *, frequency: float = 440.0, sample_rate: int = 44100) -> bytes:
    """A 16-bit PCM mono WAV clip."""
    buffer = io.BytesIO()
    soundfile.write(
        buffer, _sine(seconds, frequency, sample_rate), sample_rate, format="WAV", subtype="PCM_16"
    )
    return buffer.getvalue()


@lru_cache(maxsize=32)
def make_jpeg(width: int, height: int, *, quality: int = 85, seed: int = 0) -> bytes:
    """A JPEG with a diagonal colour gradient; ``seed`` shifts the colours so covers differ."""
    ys, xs = np.mgrid[0:height, 0:width]
    base = (seed * 47) % 256
    red = (xs * 255 // max(1, width - 1) + base) % 256
    green = (ys * 255 // max(1, height - 1) + base * 2) % 256
    blue = np.full_like(red, (128 + base) % 256)
    pixels = np.stack([red, green, blue], axis=-1).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


# MPEG audio header tables for Layer III, indexed by the header's version bits.
_BITRATES_V1 = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0)
_BITRATES_V2 = (0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0)
_SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}


def _frame_length(header: bytes) -> int:
    """Length in bytes of the Layer III frame starting with ``header``, or 0 if it is not one."""
    if len(header) < 4 or header[0] != 0xFF or (header[1] & 0xE0) != 0xE0:
        return 0
    version = (header[1] >> 3) & 0x3
    layer = (header[1] >> 1) & 0x3
    bitrate_index = header[2] >> 4
    rate_index = (header[2] >> 2) & 0x3
    if version == 1 or layer != 1 or rate_index == 3:
        return 0
    kbps = (_BITRATES_V1 if version == 3 else _BITRATES_V2)[bitrate_index]
    if not kbps:
        return 0
    sample_rate = _SAMPLE_RATES[version][rate_index]
    padding = (header[2] >> 1) & 0x1
    coefficient = 144 if version == 3 else 72
    return coefficient * kbps * 1000 // sample_rate + padding


def iter_mp3_frames(data: bytes) -> list[bytes]:
    """The MPEG audio frames of ``data`` after any ID3v2 tag; stops at the first non-frame."""
    position = 0
    if data[:3] == b"ID3" and len(data) >= 10:
        size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
        position = 10 + size
    frames: list[bytes] = []
    while True:
        length = _frame_length(data[position : position + 4])
        if not length or position + length > len(data):
            return frames
        frames.append(data[position : position + length])
        position += length


def pad_mp3_to(data: bytes, size: int) -> bytes:
    """Repeat whole frames of ``data`` until the result is about ``size`` bytes (never below it
    by more than one frame), so it stays a valid CBR MP3 whose duration scales with its size."""
    frames = iter_mp3_frames(data)
    if not frames:
        raise ValueError("no MPEG audio frames found")
    loop = b"".join(frames)
    repeats, remainder = divmod(max(size, len(loop)), len(loop))
    tail = bytearray()
    for frame in frames:
        if len(tail) + len(frame) > remainder:
            break
        tail += frame
    return loop * repeats + bytes(tail)


@lru_cache(maxsize=4)
def make_big_mp3(size_bytes: int, *, frequency: float = 440.0) -> bytes:
    """A valid MP3 of about ``size_bytes`` (for the 20 MB benchmarks) without encoding minutes of
    audio: a 10 s encoded loop is repeated frame by frame."""
    return pad_mp3_to(make_mp3(10.0, frequency=frequency), size_bytes)


def mp3_duration(data: bytes) -> float:
    """Duration in seconds as mutagen (and so most players) reads it."""
    return float(MP3(io.BytesIO(data)).info.length)
