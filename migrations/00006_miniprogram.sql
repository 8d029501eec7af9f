-- The mini-program's launch: presets (a style whose words the server adds
-- to the prompt) and the subscribe message sent when a generation settles.

-- +goose Up
ALTER TABLE generations
    ADD COLUMN preset text CHECK (preset <> ''),
    -- The user accepted the subscribe message when submitting.
    ADD COLUMN notify boolean NOT NULL DEFAULT false,
    -- Set when the message was claimed for sending: at most one per
    -- generation, whatever happens after.
    ADD COLUMN notified_at timestamptz;
ALTER TABLE wallpapers ADD COLUMN preset text CHECK (preset <> '');

-- +goose Down
ALTER TABLE wallpapers DROP COLUMN preset;
ALTER TABLE generations DROP COLUMN notified_at, DROP COLUMN notify, DROP COLUMN preset;
