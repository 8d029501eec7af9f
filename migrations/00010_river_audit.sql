-- River UI's changes to jobs and queues in the audit log.
--
-- The console's River UI (/admin/river/) can cancel, delete and retry
-- jobs and pause, resume and reconfigure queues; each such change is
-- recorded like every other admin action, with a job id or a queue name
-- as its target.

-- +goose Up
ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_target_type_check,
    ADD CONSTRAINT audit_log_target_type_check
        CHECK (target_type IN ('wallpaper', 'user', 'admin', 'job', 'queue'));

-- +goose Down
-- The audit log is never rewritten: entries about jobs and queues stay,
-- and the old check holds for new rows only (NOT VALID).
ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_target_type_check,
    ADD CONSTRAINT audit_log_target_type_check
        CHECK (target_type IN ('wallpaper', 'user', 'admin')) NOT VALID;
