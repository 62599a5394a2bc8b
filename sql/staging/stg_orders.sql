-- Grain: one row per data row of one orders file (temp table raw_orders, all VARCHAR, standard
-- column names). Types every field, derives age at order, pseudonymises the patient, and lists
-- every reason the row cannot be loaded. Rows with reasons go to quarantine.
CREATE OR REPLACE TEMP TABLE stg_orders AS
WITH
raw AS (
    SELECT * REPLACE (
        nullif(trim(order_id), '') AS order_id,
        nullif(trim(patient_id), '') AS patient_id,
        coalesce(nullif(trim(site), ''), $default_site) AS site)
    FROM raw_orders
),

typed AS (
    SELECT
        source_row, order_id, site, patient_id,
        CASE WHEN patient_id IS NOT NULL THEN
            sha256($hmac_outer || unhex(sha256($hmac_inner || encode(site || chr(31) || patient_id))))
        END AS patient_key,
        try_cast(nullif(trim(age_years), '') AS DOUBLE) AS age_given,
        try_cast(nullif(trim(date_of_birth), '') AS DATE) AS date_of_birth,
        nullif(trim(sex), '') AS sex,
        try_cast(nullif(trim(weight_kg), '') AS DOUBLE) AS weight_kg,
        try_cast(nullif(trim(height_cm), '') AS DOUBLE) AS height_cm,
        try_cast(nullif(trim(order_date), '') AS DATE) AS order_date,
        try_cast(nullif(trim(start_date), '') AS DATE) AS start_date_given,
        try_cast(nullif(trim(infusion_days), '') AS INTEGER) AS infusion_days_given,
        try_cast(nullif(trim(dose_g), '') AS DOUBLE) AS dose_g,
        nullif(trim(product), '') AS product,
        nullif(trim(indication), '') AS indication,
        nullif(trim(diagnosis_code), '') AS diagnosis_code,
        nullif(trim(severity), '') AS severity,
        parse_yes_no(refractory) AS refractory,
        parse_yes_no(plasma_exchange) AS plasma_exchange,
        parse_yes_no(with_methylprednisolone) AS with_methylprednisolone,
        nullif(trim(specialty), '') AS specialty,
        nullif(trim(department), '') AS department,
        nullif(trim(prescriber_id), '') AS prescriber_id,
        raw AS raw_record
    FROM raw
),

derived AS (
    SELECT *,
        CAST(coalesce(date_sub('year', date_of_birth, order_date), floor(age_given)) AS INTEGER) AS age_years,
        coalesce(start_date_given, order_date) AS start_date,
        coalesce(infusion_days_given, 1) AS infusion_days,
        count(*) OVER (PARTITION BY site, order_id) AS copies_in_file
    FROM typed
),

checked AS (
    SELECT *,
        list_filter([
            CASE WHEN order_id IS NULL THEN 'order_id: missing' END,
            CASE WHEN order_id IS NOT NULL AND copies_in_file > 1
                 THEN 'order_id: appears ' || copies_in_file || ' times in this file' END,
            CASE WHEN patient_id IS NULL THEN 'patient_id: missing' END,
            CASE WHEN nullif(trim(raw_record.weight_kg), '') IS NULL THEN 'weight_kg: missing'
                 WHEN weight_kg IS NULL THEN 'weight_kg: not a number'
                 WHEN weight_kg <= 0 THEN 'weight_kg: not positive' END,
            CASE WHEN nullif(trim(raw_record.dose_g), '') IS NULL THEN 'dose_g: missing'
                 WHEN dose_g IS NULL THEN 'dose_g: not a number'
                 WHEN dose_g <= 0 THEN 'dose_g: not positive' END,
            CASE WHEN nullif(trim(raw_record.order_date), '') IS NULL THEN 'order_date: missing'
                 WHEN order_date IS NULL THEN 'order_date: not a date (expected YYYY-MM-DD)' END,
            CASE WHEN nullif(trim(raw_record.start_date), '') IS NOT NULL AND start_date_given IS NULL
                 THEN 'start_date: not a date (expected YYYY-MM-DD)' END,
            CASE WHEN nullif(trim(raw_record.infusion_days), '') IS NOT NULL AND infusion_days_given IS NULL
                 THEN 'infusion_days: not a whole number'
                 WHEN infusion_days_given < 1 THEN 'infusion_days: less than 1' END,
            CASE WHEN nullif(trim(raw_record.age_years), '') IS NOT NULL AND age_given IS NULL
                 THEN 'age_years: not a number' END,
            CASE WHEN nullif(trim(raw_record.date_of_birth), '') IS NOT NULL AND date_of_birth IS NULL
                 THEN 'date_of_birth: not a date (expected YYYY-MM-DD)' END,
            CASE WHEN nullif(trim(raw_record.age_years), '') IS NULL AND nullif(trim(raw_record.date_of_birth), '') IS NULL
                 THEN 'age_years / date_of_birth: both missing' END,
            CASE WHEN age_years < 0 OR age_years > 120 THEN 'age: outside 0-120 years at order' END,
            CASE WHEN nullif(trim(raw_record.refractory), '') IS NOT NULL AND refractory IS NULL
                 THEN 'refractory: not yes/no' END,
            CASE WHEN nullif(trim(raw_record.plasma_exchange), '') IS NOT NULL AND plasma_exchange IS NULL
                 THEN 'plasma_exchange: not yes/no' END,
            CASE WHEN nullif(trim(raw_record.with_methylprednisolone), '') IS NOT NULL AND with_methylprednisolone IS NULL
                 THEN 'with_methylprednisolone: not yes/no' END
        ], lambda reason: reason IS NOT NULL) AS reasons
    FROM derived
)

SELECT
    source_row, order_id, site, patient_key,
    age_years, sex, weight_kg, height_cm, order_date, start_date, infusion_days, dose_g, product,
    indication, diagnosis_code, severity, refractory, plasma_exchange, with_methylprednisolone,
    specialty, department, prescriber_id,
    reasons,
    md5(CAST(struct_pack(order_id, site, patient_key, age_years, sex, weight_kg, height_cm, order_date,
        start_date, infusion_days, dose_g, product, indication, diagnosis_code, severity, refractory,
        plasma_exchange, with_methylprednisolone, specialty, department, prescriber_id) AS VARCHAR)) AS row_hash,
    -- the row as read, for quarantine: patient_id replaced by its key, date of birth withheld
    json_merge_patch(to_json(raw_record), json_object(
        'patient_id', NULL, 'patient_key', patient_key,
        'date_of_birth', CASE WHEN nullif(trim(raw_record.date_of_birth), '') IS NOT NULL THEN 'withheld' END
    )) AS raw_json
FROM checked;
