-- Governance by people: admins (not mini-program users) with their tokens
-- and console sessions, the audit log of what they do, users' reports of
-- wallpapers, bans, and account deletion that keeps only what compliance
-- needs.

-- +goose Up

-- Admins sign in with a token printed once by `wallpaperd admin add`;
-- only its SHA-256 is kept. A revoked admin stays for the audit log, and
-- its name may be given to a new admin.
CREATE TABLE admins (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL CHECK (name ~ '^[A-Za-z0-9_.-]{1,32}$'),
    token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE UNIQUE INDEX admins_live_name ON admins (name) WHERE revoked_at IS NULL;

-- The console's sessions (the cookie holds the token; SHA-256 kept).
CREATE TABLE admin_sessions (
    token_hash  bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    admin_id    uuid NOT NULL REFERENCES admins (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CHECK (expires_at > created_at)
);
CREATE INDEX admin_sessions_admin ON admin_sessions (admin_id);

-- Every admin action, written in the transaction of the action itself.
-- Rows are never changed (the trigger below); the operator deletes them
-- after the retention period (docs/compliance.md).
CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    -- NULL: the command line (wallpaperd admin add|revoke).
    admin_id     uuid,
    admin_name   text NOT NULL,
    action       text NOT NULL CHECK (action <> ''),
    target_type  text NOT NULL CHECK (target_type IN ('wallpaper', 'user', 'admin')),
    target_id    text NOT NULL,
    note         text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);

-- +goose StatementBegin
CREATE FUNCTION audit_log_unchangeable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_unchangeable BEFORE UPDATE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_unchangeable();

-- The first approval of a wallpaper (an admin rejecting it later refunds
-- nothing: its author had it) and the last admin decision (reports filed
-- before it do not count towards holding it again).
ALTER TABLE wallpapers
    ADD COLUMN approved_at timestamptz,
    ADD COLUMN decided_at timestamptz;
UPDATE wallpapers SET approved_at = created_at WHERE review = 'approved';
-- The review queue: held and pending wallpapers, oldest first.
CREATE INDEX wallpapers_review_queue ON wallpapers (created_at) WHERE review IN ('held', 'pending');

-- +goose StatementBegin
CREATE FUNCTION wallpapers_first_approval() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.review = 'approved' AND NEW.approved_at IS NULL THEN
        NEW.approved_at := now();
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER wallpapers_first_approval BEFORE INSERT OR UPDATE OF review ON wallpapers
    FOR EACH ROW EXECUTE FUNCTION wallpapers_first_approval();

-- One report per user and wallpaper. Kept when the wallpaper goes (no
-- foreign key) and when the reporter deletes the account (anonymous).
CREATE TABLE reports (
    id            uuid PRIMARY KEY,
    wallpaper_id  uuid NOT NULL,
    reporter_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    reason        text NOT NULL CHECK (reason IN ('porn', 'politics', 'violence', 'abuse', 'copyright', 'other')),
    detail        text NOT NULL DEFAULT '' CHECK (char_length(detail) <= 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (wallpaper_id, reporter_id)
);
CREATE INDEX reports_wallpaper ON reports (wallpaper_id, created_at);
CREATE INDEX reports_reporter ON reports (reporter_id, created_at DESC);
CREATE INDEX reports_at ON reports (created_at);

-- A ban is keyed by the keyed hash of the WeChat openid (subject), so
-- that it outlives a deleted account; user_id is the account while it
-- exists. Unbanning deletes the row (the audit log keeps the history).
CREATE TABLE bans (
    subject     bytea PRIMARY KEY CHECK (octet_length(subject) = 32),
    user_id     uuid UNIQUE REFERENCES users (id) ON DELETE SET NULL,
    reason      text NOT NULL CHECK (reason <> ''),
    admin_id    uuid,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The quota a deleted account had used, by subject and quota day, taken
-- over by the next account of the same WeChat user.
CREATE TABLE quota_carryover (
    subject  bytea NOT NULL CHECK (octet_length(subject) = 32),
    day      date NOT NULL,
    used     integer NOT NULL CHECK (used > 0),
    PRIMARY KEY (subject, day)
);

-- Accounts deleted lately: their access tokens are refused until they
-- expire (the rows are dropped after two days).
CREATE TABLE account_deletions (
    user_id     uuid PRIMARY KEY,
    deleted_at  timestamptz NOT NULL DEFAULT now()
);

-- Generation records outlive their account: the user becomes an opaque
-- subject id, the same for every record of the deleted account.
ALTER TABLE generations
    ALTER COLUMN user_id DROP NOT NULL,
    DROP CONSTRAINT generations_user_id_fkey,
    ADD CONSTRAINT generations_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN subject uuid,
    ADD CONSTRAINT generations_owner CHECK (user_id IS NOT NULL OR subject IS NOT NULL);

-- +goose Down
DELETE FROM generations WHERE user_id IS NULL;
ALTER TABLE generations
    DROP CONSTRAINT generations_owner,
    DROP COLUMN subject,
    DROP CONSTRAINT generations_user_id_fkey,
    ADD CONSTRAINT generations_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    ALTER COLUMN user_id SET NOT NULL;
DROP TABLE account_deletions;
DROP TABLE quota_carryover;
DROP TABLE bans;
DROP TABLE reports;
DROP TRIGGER wallpapers_first_approval ON wallpapers;
DROP INDEX wallpapers_review_queue;
DROP FUNCTION wallpapers_first_approval();
ALTER TABLE wallpapers DROP COLUMN decided_at, DROP COLUMN approved_at;
DROP TABLE audit_log;
DROP FUNCTION audit_log_unchangeable();
DROP TABLE admin_sessions;
DROP TABLE admins;
