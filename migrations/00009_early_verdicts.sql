-- Image check verdicts that come before their ask is recorded.
--
-- WeChat answers mediaCheckAsync with a trace id and pushes the verdict
-- for that trace later; on a busy server the push can arrive before the
-- trace id is written to moderation_checks. Such a verdict is kept here,
-- and the recording of its trace takes it and applies it. Exactly one of
-- the two sides deletes the row, and that side applies the verdict. A
-- verdict whose ask is never recorded is dropped after a day.

-- +goose Up
CREATE TABLE moderation_early_verdicts (
    trace_id    text PRIMARY KEY CHECK (trace_id <> ''),
    suggest     text NOT NULL CHECK (suggest IN ('pass', 'review', 'risky')),
    label       text NOT NULL DEFAULT '',
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX moderation_early_verdicts_received ON moderation_early_verdicts (received_at);

-- +goose Down
DROP TABLE moderation_early_verdicts;
