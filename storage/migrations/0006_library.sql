-- The library (/library): a person's delivered songs. Removing one from the library hides the track
-- and keeps the task, its events and its file id (a share link or Extend may still need them).
ALTER TABLE tracks ADD COLUMN library_hidden_at REAL;
-- The library lists a person's tracks newest first; their tasks are found through tasks_by_user and
-- each task's tracks through the (task_id, audio_id) unique index, so only the order needs one.
CREATE INDEX tracks_library ON tracks(task_id, sent_at) WHERE telegram_file_id IS NOT NULL AND library_hidden_at IS NULL;
