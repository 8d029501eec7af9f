-- The whole model of wallpaperd: users, their sessions, their daily quota,
-- generations (accepted requests), wallpapers (finished images) and likes.

-- +goose Up
CREATE TABLE users (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    openid      text NOT NULL UNIQUE CHECK (openid <> ''),
    unionid     text CHECK (unionid <> ''),
    nickname    text NOT NULL DEFAULT '' CHECK (char_length(nickname) <= 32),
    avatar_key  text CHECK (avatar_key <> ''),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens are kept only as SHA-256 hashes. A login starts a family;
-- every refresh rotates within it; presenting a rotated token revokes the
-- family.
CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id   uuid NOT NULL,
    token_hash  bytea NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    rotated_at  timestamptz,
    revoked_at  timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

-- One row a user and quota day; used counts the units spent and not refunded.
CREATE TABLE quota_usage (
    user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day      date NOT NULL,
    used     integer NOT NULL DEFAULT 0 CHECK (used >= 0),
    PRIMARY KEY (user_id, day)
);

CREATE TABLE generations (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    prompt           text NOT NULL CHECK (char_length(prompt) BETWEEN 1 AND 1000),
    size             text NOT NULL CHECK (size IN ('1024x1792', '1792x1024', '1024x1024')),
    style            text NOT NULL CHECK (style IN ('vivid', 'natural')),
    quality          text NOT NULL CHECK (quality IN ('standard', 'hd')),
    status           text NOT NULL DEFAULT 'queued'
                     CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    error_code       text,
    error_message    text,
    -- The quota day charged at acceptance; the refund goes back to it.
    quota_day        date NOT NULL,
    refunded         boolean NOT NULL DEFAULT false,
    idempotency_key  text CHECK (char_length(idempotency_key) BETWEEN 1 AND 255),
    -- SHA-256 of the canonical request, to tell a replay from a conflict.
    request_hash     bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    started_at       timestamptz,
    finished_at      timestamptz,
    UNIQUE (user_id, idempotency_key),
    CHECK ((status = 'failed') = (error_code IS NOT NULL)),
    CHECK (NOT refunded OR status = 'failed'),
    CHECK ((status IN ('succeeded', 'failed')) = (finished_at IS NOT NULL))
);
CREATE INDEX generations_user_keyset ON generations (user_id, created_at DESC, id DESC);

CREATE TABLE wallpapers (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- At most one wallpaper a generation, whatever the job retries do.
    generation_id  uuid UNIQUE REFERENCES generations (id) ON DELETE SET NULL,
    prompt         text NOT NULL,
    size           text NOT NULL CHECK (size IN ('1024x1792', '1792x1024', '1024x1024')),
    width          integer NOT NULL CHECK (width > 0),
    height         integer NOT NULL CHECK (height > 0),
    model          text NOT NULL CHECK (model <> ''),
    params         jsonb NOT NULL DEFAULT '{}'::jsonb,
    image_key      text NOT NULL CHECK (image_key <> ''),
    thumbnail_key  text NOT NULL CHECK (thumbnail_key <> ''),
    public         boolean NOT NULL DEFAULT true,
    like_count     integer NOT NULL DEFAULT 0 CHECK (like_count >= 0),
    created_at     timestamptz NOT NULL DEFAULT now()
);
-- The public feed: keyset on (created_at, id), newest first.
CREATE INDEX wallpapers_feed ON wallpapers (created_at DESC, id DESC) WHERE public;
-- A user's own list, private ones too.
CREATE INDEX wallpapers_user_keyset ON wallpapers (user_id, created_at DESC, id DESC);

CREATE TABLE likes (
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    wallpaper_id  uuid NOT NULL REFERENCES wallpapers (id) ON DELETE CASCADE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, wallpaper_id)
);
CREATE INDEX likes_wallpaper ON likes (wallpaper_id);

-- +goose Down
DROP TABLE likes;
DROP TABLE wallpapers;
DROP TABLE generations;
DROP TABLE quota_usage;
DROP TABLE refresh_tokens;
DROP TABLE users;
