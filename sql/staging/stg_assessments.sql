-- Grain: one row per data row of one assessments file (temp table raw_rows: text, standard names).
-- Types the fields, recognises the measure through ref_measure_aliases, pseudonymises the patient,
-- and keeps what the checks registry (guideline/checks/assessments.yaml) needs. As for orders,
-- each distinct patient is hashed once and the quarantine record is built at load time.
-- Written to the attached in-memory database `stage`, where Great Expectations validates it.
CREATE OR REPLACE TABLE stage.staged AS
WITH
raw AS NOT MATERIALIZED (  -- inlined into each use: cheaper than a copy of the file
    SELECT * REPLACE (
        blank_to_null(patient_id) AS patient_id,
        coalesce(blank_to_null(site), $default_site) AS site)
    FROM raw_rows
),

-- a patient seen before keeps their patient_seq (patient_keys); a new one is numbered after the
-- last, and sql/core/load_*.sql adds them to patient_keys
patients AS (
    SELECT site, patient_id, patient_key,
        coalesce(k.patient_seq, (SELECT coalesce(max(patient_seq), 0) FROM patient_keys)
                 + row_number() OVER (PARTITION BY k.patient_seq IS NULL ORDER BY site, patient_key)) AS patient_seq
    FROM (SELECT site, patient_id, patient_key_of(site, patient_id, $hmac_inner, $hmac_outer) AS patient_key
          FROM (SELECT DISTINCT site, patient_id FROM raw WHERE patient_id IS NOT NULL))
    LEFT JOIN patient_keys AS k USING (site, patient_key)
),

typed AS (
    SELECT
        raw.source_row, raw.site, patients.patient_key, patients.patient_seq,
        parse_date(raw.assessment_date, $date_formats) AS assessment_date,
        alias.measure,
        parse_number(raw.value, $decimal_comma) AS value,
        m.scale_min, m.scale_max,
        raw AS raw_record
    FROM raw
    LEFT JOIN patients USING (site, patient_id)
    LEFT JOIN ref_measure_aliases AS alias
        ON alias.alias_key = upper(regexp_replace(coalesce(raw.measure, ''), '[^A-Za-z0-9]', '', 'g'))
    LEFT JOIN ref_measures AS m ON m.measure = alias.measure
)

SELECT
    source_row, site, patient_key, patient_seq, assessment_date, measure, value,
    -- for the checks
    CASE WHEN patient_key IS NOT NULL AND assessment_date IS NOT NULL AND measure IS NOT NULL THEN
        count(*) OVER (PARTITION BY site, patient_key, assessment_date, measure) END AS copies_in_file,
    blank_to_null(raw_record.assessment_date) AS assessment_date_text,
    blank_to_null(raw_record.measure) AS measure_text,
    blank_to_null(raw_record.value) AS value_text,
    unparsed(raw_record.assessment_date, assessment_date) AS assessment_date_unparsed,
    unparsed(raw_record.measure, measure) AS measure_unknown,
    unparsed(raw_record.value, value) AS value_unparsed,
    CASE WHEN value < scale_min OR value > scale_max THEN value END AS value_outside_scale
FROM typed;
