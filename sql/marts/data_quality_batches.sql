-- model: mart_data_quality_batches
-- kind: full
-- grain: one row per extract file seen (ingest_batches), newest first
-- reads: ingest_batches
--
-- Status, rows read, loaded (and of them replaced: corrections of rows loaded before),
-- quarantined and unchanged, and the reason a file was rejected.
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
