-- Governance: every wallpaper has a review state, its objects live under a
-- public or a private prefix, and whether others may see it is one derived
-- column that the feed's index is on.

-- +goose Up
ALTER TABLE generations ADD COLUMN public boolean NOT NULL DEFAULT true;

-- The review state: unchecked (private, never checked), pending (waiting
-- for the image check), approved, held (waiting for an admin).
ALTER TABLE wallpapers
    ADD COLUMN review text NOT NULL DEFAULT 'approved'
        CHECK (review IN ('unchecked', 'pending', 'approved', 'held')),
    -- Set when the author is banned; the admin work keeps it.
    ADD COLUMN author_banned boolean NOT NULL DEFAULT false,
    -- Whether the display image and thumbnail are under the public prefix
    -- (image_key and thumbnail_key always name where they are now).
    ADD COLUMN published boolean NOT NULL DEFAULT false,
    -- The master: the image as painted, without the visible label, always
    -- private; '' for wallpapers made before labelling.
    ADD COLUMN master_key text NOT NULL DEFAULT '';
-- Wallpapers made before: their objects sit at the old keys, served as
-- public ones; the storage sweep moves the private ones.
UPDATE wallpapers SET published = public;

-- The one visibility rule: others may see a wallpaper when it is public,
-- approved, its author not banned, and its objects are published.
ALTER TABLE wallpapers ADD COLUMN visible boolean NOT NULL
    GENERATED ALWAYS AS (public AND review = 'approved' AND NOT author_banned AND published) STORED;

DROP INDEX wallpapers_feed;
CREATE INDEX wallpapers_feed ON wallpapers (created_at DESC, id DESC) WHERE visible;
-- The storage sweep finds wallpapers whose objects are not where their
-- state says (a crash between a state change and the move).
CREATE INDEX wallpapers_unsettled ON wallpapers (id)
    WHERE published <> (public AND review = 'approved' AND NOT author_banned);

-- One row per image check asked of WeChat (or decided locally). Kept for
-- the retention period even when the wallpaper is gone: no foreign key.
CREATE TABLE moderation_checks (
    trace_id       text PRIMARY KEY CHECK (trace_id <> ''),
    wallpaper_id   uuid NOT NULL,
    generation_id  uuid,
    user_id        uuid NOT NULL,
    asked_at       timestamptz NOT NULL DEFAULT now(),
    answered_at    timestamptz,
    suggest        text CHECK (suggest IN ('pass', 'review', 'risky')),
    label          text NOT NULL DEFAULT '',
    CHECK ((answered_at IS NULL) = (suggest IS NULL))
);
CREATE INDEX moderation_checks_wallpaper ON moderation_checks (wallpaper_id, asked_at DESC);

-- Every download of a master without its visible label (kept at least six
-- months: the labelling measures' Art. 9).
CREATE TABLE original_downloads (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       uuid NOT NULL,
    wallpaper_id  uuid NOT NULL,
    at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX original_downloads_at ON original_downloads (at);

-- +goose Down
DROP TABLE original_downloads;
DROP TABLE moderation_checks;
DROP INDEX wallpapers_unsettled;
DROP INDEX wallpapers_feed;
ALTER TABLE wallpapers DROP COLUMN visible;
CREATE INDEX wallpapers_feed ON wallpapers (created_at DESC, id DESC) WHERE public;
ALTER TABLE wallpapers DROP COLUMN master_key, DROP COLUMN published, DROP COLUMN author_banned, DROP COLUMN review;
ALTER TABLE generations DROP COLUMN public;
