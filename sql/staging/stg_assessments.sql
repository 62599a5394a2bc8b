-- Grain: one row per data row of one assessments file (temp table raw_rows: text, standard names).
-- Types the fields, recognises the measure through ref_measure_aliases, pseudonymises the patient,
-- and keeps what the checks registry (guideline/checks/assessments.yaml) needs. As for orders, each
-- distinct patient is hashed and numbered once (sql/staging/stg_patients.sql) and the quarantine
-- record is built at load time. The same patient, date and measure more than once in the file:
-- identical copies load once (the others count as unchanged: identical_copy_of), copies with
-- different values are all held back (versions_in_file).
-- Written to the attached in-memory database `stage`, where Great Expectations validates it.
CREATE OR REPLACE TABLE stage.staged AS
WITH
raw AS NOT MATERIALIZED (  -- inlined into each use: cheaper than a copy of the file
    SELECT * REPLACE (
        blank_to_null(patient_id) AS patient_id,
        coalesce(blank_to_null(site), $default_site) AS site)
    FROM raw_rows
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
    LEFT JOIN stage.patients AS patients USING (site, patient_id)
    LEFT JOIN ref_measure_aliases AS alias
        ON alias.alias_key = upper(regexp_replace(coalesce(raw.measure, ''), '[^A-Za-z0-9]', '', 'g'))
    LEFT JOIN ref_measures AS m ON m.measure = alias.measure
)

SELECT
    source_row, site, patient_key, patient_seq, assessment_date, measure, value,
    -- for the checks
    CASE WHEN patient_key IS NOT NULL AND assessment_date IS NOT NULL AND measure IS NOT NULL THEN
        count(DISTINCT row(value)) OVER (PARTITION BY site, patient_key, assessment_date, measure) END
        AS versions_in_file,
    nullif(min(source_row) OVER (PARTITION BY site, patient_key, assessment_date, measure, row(value)), source_row)
        AS identical_copy_of,
    blank_to_null(raw_record.assessment_date) AS assessment_date_text,
    blank_to_null(raw_record.measure) AS measure_text,
    blank_to_null(raw_record.value) AS value_text,
    unparsed(raw_record.assessment_date, assessment_date) AS assessment_date_unparsed,
    unparsed(raw_record.measure, measure) AS measure_unknown,
    unparsed(raw_record.value, value) AS value_unparsed,
    CASE WHEN value < scale_min OR value > scale_max THEN value END AS value_outside_scale
FROM typed;
