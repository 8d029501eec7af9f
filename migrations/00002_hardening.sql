-- Sessions with an end: every refresh token carries the start of its
-- family (a family older than SESSION_MAX_AGE cannot refresh), and the
-- token that replaced it (a retry within the grace window revokes that
-- one instead of the family). The periodic cleanup finds what to delete
-- by the two new indexes.

-- +goose Up
-- The default serves the previous binary during a rolling deploy: its
-- logins start families now, and its refreshes restart the count, which
-- only lengthens a session.
ALTER TABLE refresh_tokens ADD COLUMN family_created_at timestamptz NOT NULL DEFAULT now();
UPDATE refresh_tokens t SET family_created_at = f.started
FROM (SELECT family_id, min(created_at) AS started FROM refresh_tokens GROUP BY family_id) f
WHERE t.family_id = f.family_id;
ALTER TABLE refresh_tokens ADD COLUMN replaced_by uuid;
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);
CREATE INDEX refresh_tokens_rotated ON refresh_tokens (rotated_at) WHERE rotated_at IS NOT NULL;

-- +goose Down
DROP INDEX refresh_tokens_rotated;
DROP INDEX refresh_tokens_expires;
ALTER TABLE refresh_tokens DROP COLUMN replaced_by;
ALTER TABLE refresh_tokens DROP COLUMN family_created_at;
