-- Grain: one row per extract file seen (ingest_batches), newest first: status, rows read, loaded
-- (and of them replaced: corrections of rows loaded before), quarantined and unchanged, and the
-- reason a file was rejected.
CREATE OR REPLACE TABLE mart_data_quality_batches AS
SELECT
    batch_id,
    regexp_extract(source_file, '[^/\\]+$') AS file,
    kind,
    status,
    rows_read,
    rows_loaded,
    rows_replaced,
    rows_quarantined,
    rows_unchanged,
    reason,
    finished_at
FROM ingest_batches
ORDER BY batch_id DESC;
