-- Loads one checked assessments file (view checked) as batch $batch_id, inside the caller's
-- transaction; the same four outcomes as sql/core/load_orders.sql. An assessment is identified by
-- site, patient, date and measure: the same key with another value is a correction.
CREATE OR REPLACE TEMP TABLE stg_changes AS  -- the outcome alone, as in sql/core/load_orders.sql
SELECT s.source_row, s.site, s.patient_key, s.assessment_date, s.measure,
    CASE
        WHEN len(s.reasons) > 0 THEN 'quarantined'
        WHEN s.identical_copy_of IS NOT NULL THEN 'unchanged'  -- a copy of a row above it in the file
        WHEN a.patient_key IS NULL THEN 'new'
        WHEN a.value = s.value THEN 'unchanged'
        ELSE 'changed'
    END AS change_kind
FROM checked AS s
LEFT JOIN assessments AS a
    ON a.site = s.site AND a.patient_key = s.patient_key
   AND a.assessment_date = s.assessment_date AND a.measure = s.measure;

INSERT INTO quarantine (batch_id, source_row, reasons, record)
SELECT $batch_id, s.source_row, s.reasons,
       json_merge_patch(to_json(r), json_object('patient_id', NULL, 'patient_key', s.patient_key))
FROM checked AS s
SEMI JOIN (SELECT source_row FROM stg_changes WHERE change_kind = 'quarantined') USING (source_row)
JOIN raw_rows AS r USING (source_row)
UNION ALL
SELECT $batch_id, source_row, reasons, json_object('line', line) FROM raw_rejects;

INSERT INTO assessments_history BY NAME
SELECT a.*, $batch_id AS replaced_by_batch_id
FROM assessments AS a JOIN stg_changes AS s USING (site, patient_key, assessment_date, measure)
WHERE s.change_kind = 'changed';

DELETE FROM assessments
WHERE (site, patient_key, assessment_date, measure) IN (
    SELECT (site, patient_key, assessment_date, measure) FROM stg_changes WHERE change_kind = 'changed');

INSERT INTO assessments BY NAME
SELECT site, patient_key, patient_seq, assessment_date, measure, value, dq_flags, source_row,
       $batch_id AS batch_id
FROM checked
ANTI JOIN (SELECT source_row FROM stg_changes WHERE change_kind IN ('quarantined', 'unchanged')) USING (source_row);
