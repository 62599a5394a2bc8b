-- Loads one checked orders file (temp table checked) as batch $batch_id, inside the caller's
-- transaction. Each row is exactly one of: quarantined (it has reasons), unchanged (an identical
-- copy of the loaded order), changed (a correction: the old row moves to orders_history), or new.
-- Lines that could not be split into fields (raw_rejects) are quarantined too.
CREATE OR REPLACE TEMP TABLE stg_changes AS
SELECT s.*,
    CASE
        WHEN len(s.reasons) > 0 THEN 'quarantined'
        WHEN o.order_id IS NULL THEN 'new'
        WHEN o.row_hash = s.row_hash THEN 'unchanged'
        ELSE 'changed'
    END AS change_kind
FROM checked AS s
LEFT JOIN orders AS o ON o.site = s.site AND o.order_id = s.order_id;

INSERT INTO quarantine (batch_id, source_row, reasons, record)
SELECT $batch_id, source_row, reasons, raw_json FROM stg_changes WHERE change_kind = 'quarantined'
UNION ALL
SELECT $batch_id, source_row, reasons, json_object('unparsed_row_in_file', source_row) FROM raw_rejects;

INSERT INTO orders_history
SELECT o.*, $batch_id
FROM orders AS o JOIN stg_changes AS s USING (site, order_id)
WHERE s.change_kind = 'changed';

DELETE FROM orders
WHERE (site, order_id) IN (SELECT (site, order_id) FROM stg_changes WHERE change_kind = 'changed');

INSERT INTO orders BY NAME
SELECT order_id, site, patient_key, age_years, sex, weight_kg, height_cm, order_date, start_date,
       infusion_days, dose_g, product, indication, diagnosis_code, severity, refractory, plasma_exchange,
       with_methylprednisolone, specialty, department, prescriber_id, dq_flags, row_hash, source_row,
       $batch_id AS batch_id
FROM stg_changes WHERE change_kind IN ('new', 'changed');
