-- Loads one checked orders file (view checked) as batch $batch_id, inside the caller's
-- transaction. Each row is exactly one of: quarantined (it has reasons), unchanged (an identical
-- copy of the loaded order, or of a row above it in the file), changed (a correction: the old row
-- moves to orders_history), or new. The rows the reader held back (raw_rejects: lines that could
-- not be split into fields, rows with NUL bytes, a last line without a line end) are quarantined
-- with their order id and line in the file, never the line itself. A quarantined row is kept as
-- read (raw_rows), its patient id replaced by the key and its date of birth withheld.
-- Each loaded order gets its profile's number (audit_profiles, profile_id): what order_audit joins on.
-- stg_changes holds the outcome alone: the rows are read again from checked where they are needed
-- (a copy of every staged column cost as much as loading them).
CREATE OR REPLACE TEMP TABLE stg_changes AS
SELECT s.source_row, s.site, s.order_id,
    CASE
        WHEN len(s.reasons) > 0 THEN 'quarantined'
        WHEN s.identical_copy_of IS NOT NULL THEN 'unchanged'  -- a copy of a row above it in the file
        WHEN o.order_id IS NULL THEN 'new'
        WHEN (o.patient_key, o.age_years, o.sex, o.weight_kg, o.height_cm, o.order_date, o.start_date,
              o.infusion_days, o.dose_g, o.product, o.indication, o.diagnosis_code, o.severity, o.refractory,
              o.plasma_exchange, o.with_methylprednisolone, o.specialty, o.department, o.prescriber_id)
             IS NOT DISTINCT FROM
             (s.patient_key, s.age_years, s.sex, s.weight_kg, s.height_cm, s.order_date, s.start_date,
              s.infusion_days, s.dose_g, s.product, s.indication, s.diagnosis_code, s.severity, s.refractory,
              s.plasma_exchange, s.with_methylprednisolone, s.specialty, s.department, s.prescriber_id)
            THEN 'unchanged'
        ELSE 'changed'
    END AS change_kind
FROM checked AS s
LEFT JOIN orders AS o ON o.site = s.site AND o.order_id = s.order_id;

INSERT INTO quarantine (batch_id, source_row, reasons, record)
SELECT $batch_id, s.source_row, s.reasons,
       json_merge_patch(to_json(r), json_object(
           'patient_id', NULL, 'patient_key', s.patient_key,
           'date_of_birth', CASE WHEN blank_to_null(r.date_of_birth) IS NOT NULL THEN 'withheld' END))
FROM checked AS s
SEMI JOIN (SELECT source_row FROM stg_changes WHERE change_kind = 'quarantined') USING (source_row)
JOIN raw_rows AS r USING (source_row)
UNION ALL
SELECT $batch_id, source_row, reasons, json_object('order_id', order_id, 'line', line) FROM raw_rejects;

INSERT INTO orders_history BY NAME
SELECT o.*, $batch_id AS replaced_by_batch_id
FROM orders AS o JOIN stg_changes AS s USING (site, order_id)
WHERE s.change_kind = 'changed';

DELETE FROM orders
WHERE (site, order_id) IN (SELECT (site, order_id) FROM stg_changes WHERE change_kind = 'changed');

-- the rows loaded, each with its profile: the profiles not seen before are registered first
-- (profiles_to_register, sql/macros.sql)
CREATE OR REPLACE TEMP VIEW loaded AS
SELECT * FROM checked
ANTI JOIN (SELECT source_row FROM stg_changes WHERE change_kind IN ('quarantined', 'unchanged')) USING (source_row);

INSERT INTO audit_profiles BY NAME SELECT * FROM profiles_to_register('loaded');

INSERT INTO orders BY NAME
SELECT s.order_id, s.site, s.patient_key, s.patient_seq, s.age_years, s.sex, s.weight_kg, s.height_cm,
       s.order_date, s.start_date, s.infusion_days, s.dose_g, s.product, s.indication, s.diagnosis_code, s.severity,
       s.refractory, s.plasma_exchange, s.with_methylprednisolone, s.specialty, s.department, s.prescriber_id,
       s.dq_flags, s.source_row, $batch_id AS batch_id, p.profile_id
FROM loaded AS s
JOIN audit_profiles AS p
  ON p.indication IS NOT DISTINCT FROM s.indication AND p.diagnosis_code IS NOT DISTINCT FROM s.diagnosis_code
 AND p.age_years IS NOT DISTINCT FROM s.age_years AND p.specialty IS NOT DISTINCT FROM s.specialty
 AND p.severity IS NOT DISTINCT FROM s.severity AND p.refractory IS NOT DISTINCT FROM s.refractory
 AND p.plasma_exchange IS NOT DISTINCT FROM s.plasma_exchange
 AND p.with_methylprednisolone IS NOT DISTINCT FROM s.with_methylprednisolone;
