-- Replicas and fenced attempts (issue 18): crash recovery in seconds.
--
-- Every running wallpaperd process (replica) keeps a row here and beats
-- it every REPLICA_DEAD_AFTER/3; a row older than REPLICA_DEAD_AFTER is a
-- dead replica, whose running jobs a survivor hands back to the queue.
-- A generation records which attempt of its job holds it (River's attempt
-- number, which only grows), and only that attempt may finish it: an
-- attempt whose process was presumed dead and woke up late writes nothing.

-- +goose Up
CREATE TABLE replicas (
    id           text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
    -- A fresh value per process start: a replica that finds its row
    -- holding another incarnation was presumed dead and taken over.
    incarnation  uuid NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE generations
    -- The attempt (River's job attempt number) that holds the generation:
    -- 0 before any.
    ADD COLUMN lease integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE generations DROP COLUMN lease;
DROP TABLE replicas;
