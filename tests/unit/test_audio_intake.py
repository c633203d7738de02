"""Recognising, measuring and converting audio a person sends, with no system binaries."""

from __future__ import annotations

import time
from pathlib import Path

import mutagen
import pytest

from bot.chat.audio_intake import (
    MAX_SECONDS,
    IntakeRefused,
    convert_to_mp3,
    default_title,
    looks_like_audio_document,
    probe_audio,
)
from emulators.audio_fixtures import make_mp3, make_ogg_opus, make_silent_ogg_opus, make_wav


def write(tmp_path: Path, data: bytes, name: str = "incoming") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_mp3_is_kept_and_measured_from_the_file_itself(tmp_path: Path) -> None:
    probed = probe_audio(write(tmp_path, make_mp3(3.0)))
    assert probed.extension == "mp3" and probed.mime_type == "audio/mpeg" and not probed.convert
    assert probed.duration == pytest.approx(3.0, abs=0.1)


def test_ogg_opus_voice_note_becomes_mp3(tmp_path: Path) -> None:
    source = write(tmp_path, make_ogg_opus(2.0))
    probed = probe_audio(source)
    assert probed.extension == "mp3" and probed.mime_type == "audio/mpeg" and probed.convert
    assert probed.duration == pytest.approx(2.0, abs=0.1)
    seconds = convert_to_mp3(source, tmp_path / "out.mp3")
    assert seconds == pytest.approx(2.0, abs=0.1)
    assert type(mutagen.File(tmp_path / "out.mp3")).__name__ == "MP3"


def test_wav_is_kept(tmp_path: Path) -> None:
    assert probe_audio(write(tmp_path, make_wav(1.5))).extension == "wav"


@pytest.mark.parametrize("data", [b"", b"not audio at all" * 100, b"\xff\xfb" + b"\0" * 10])
def test_anything_else_is_refused_with_the_format_message(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(IntakeRefused) as refused:
        probe_audio(write(tmp_path, data))
    assert refused.value.key == "intake.format"


def test_an_hour_of_opus_is_measured_from_its_granule_positions_without_decoding(tmp_path: Path) -> None:
    started = time.monotonic()
    probed = probe_audio(write(tmp_path, make_silent_ogg_opus(3600.0)))
    assert probed.duration == pytest.approx(3600.0, abs=1.0)
    assert time.monotonic() - started < 1.0  # decoding it would take a minute or more


def test_a_conversion_stops_where_the_audio_runs_past_the_limit(tmp_path: Path) -> None:
    """Metadata can understate the length: the decoder itself stops at the limit, and nothing is kept."""
    dest = tmp_path / "out.mp3"
    with pytest.raises(IntakeRefused) as refused:
        convert_to_mp3(write(tmp_path, make_silent_ogg_opus(12.0)), dest, max_seconds=5.0)
    assert refused.value.key == "intake.too_long"
    assert refused.value.values["limit"] == "0:05" and not dest.exists()


def test_the_longest_audio_is_what_cover_and_extend_take() -> None:
    assert MAX_SECONDS == 8 * 60


def test_default_title_prefers_the_tag_then_the_file_name() -> None:
    assert default_title("my_demo.mp3", None) == "my demo"
    assert default_title("x.mp3", "  Real Title ") == "Real Title"
    assert default_title(None, None) == ""


def test_audio_documents_by_type_or_name() -> None:
    assert looks_like_audio_document("audio/flac", "a.bin")
    assert looks_like_audio_document("application/octet-stream", "take1.M4A")
    assert not looks_like_audio_document("application/pdf", "notes.pdf")
