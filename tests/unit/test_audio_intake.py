"""Recognising, measuring and converting audio a person sends, with no system binaries."""

from __future__ import annotations

import io

import mutagen
import pytest

from bot.chat.audio_intake import IntakeRefused, default_title, looks_like_audio_document, probe_audio
from emulators.audio_fixtures import make_mp3, make_ogg_opus, make_wav


def test_mp3_is_kept_and_measured_from_the_file_itself() -> None:
    data = make_mp3(3.0)
    probed = probe_audio(data)
    assert probed.data == data and probed.extension == "mp3" and probed.mime_type == "audio/mpeg"
    assert probed.duration == pytest.approx(3.0, abs=0.1)


def test_ogg_opus_voice_note_becomes_mp3() -> None:
    probed = probe_audio(make_ogg_opus(2.0))
    assert probed.extension == "mp3" and probed.mime_type == "audio/mpeg"
    assert type(mutagen.File(io.BytesIO(probed.data))).__name__ == "MP3"
    assert probed.duration == pytest.approx(2.0, abs=0.1)


def test_wav_is_kept() -> None:
    assert probe_audio(make_wav(1.5)).extension == "wav"


@pytest.mark.parametrize("data", [b"", b"not audio at all" * 100, b"\xff\xfb" + b"\0" * 10])
def test_anything_else_is_refused_with_the_format_message(data: bytes) -> None:
    with pytest.raises(IntakeRefused) as refused:
        probe_audio(data)
    assert refused.value.key == "intake.format"


def test_default_title_prefers_the_tag_then_the_file_name() -> None:
    assert default_title("my_demo.mp3", None) == "my demo"
    assert default_title("x.mp3", "  Real Title ") == "Real Title"
    assert default_title(None, None) == ""


def test_audio_documents_by_type_or_name() -> None:
    assert looks_like_audio_document("audio/flac", "a.bin")
    assert looks_like_audio_document("application/octet-stream", "take1.M4A")
    assert not looks_like_audio_document("application/pdf", "notes.pdf")
