-- Recovery (storage/recovery.py): the audio link of a track that would not download, kept while the
-- provider recovers the track (its audio_url is NULL meanwhile), so the person still gets that link if
-- the recovery fails too.
ALTER TABLE tracks ADD COLUMN lost_url TEXT;
