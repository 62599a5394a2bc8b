-- Grain: one row per data row of one orders file (temp table raw_rows: text, standard names).
-- Types every field with the site profile's formats and units, derives age at order,
-- pseudonymises the patient, and keeps what the checks registry (guideline/checks/orders.yaml)
-- needs: <column>_text (present or not) and <column>_unparsed (present but unreadable).
-- Each distinct patient is hashed and numbered once (sql/staging/stg_patients.sql). The row as
-- read, for quarantine, is built at load time for quarantined rows only (sql/core/load_orders.sql).
-- An order given more than once in the file: identical copies (the same content once typed) are
-- one order exported twice, so the first is loaded and the others count as unchanged
-- (identical_copy_of); copies that differ are all held back by the check on versions_in_file. Those
-- few rows are told apart by the UPDATE at the end.
-- Written to the attached in-memory database `stage`, where Great Expectations validates it.
CREATE OR REPLACE TABLE stage.staged AS
WITH
raw AS NOT MATERIALIZED (  -- inlined into each use: cheaper than a copy of the file
    SELECT * REPLACE (
        blank_to_null(order_id) AS order_id,
        blank_to_null(patient_id) AS patient_id,
        coalesce(blank_to_null(site), $default_site) AS site)
    FROM raw_rows
),

-- order ids given more than once in the file (few): a narrow aggregate, not a window over whole rows
repeated AS (
    SELECT site, order_id, count(*) AS copies_in_file
    FROM raw WHERE order_id IS NOT NULL
    GROUP BY ALL HAVING count(*) > 1
),

typed AS (
    SELECT
        source_row, order_id, site, patient_key, patient_seq,
        parse_number(age_years, $decimal_comma) AS age_given,
        parse_date(date_of_birth, $date_formats) AS date_of_birth,
        blank_to_null(sex) AS sex,
        parse_number(weight_kg, $decimal_comma) * $weight_to_kg AS weight_kg,
        parse_number(height_cm, $decimal_comma) * $height_to_cm AS height_cm,
        parse_date(order_date, $date_formats) AS order_date,
        parse_date(start_date, $date_formats) AS start_date_given,
        CASE WHEN regexp_full_match(trim(infusion_days), '[0-9]{1,6}') THEN CAST(trim(infusion_days) AS INTEGER) END
            AS infusion_days_given,
        parse_number(dose_g, $decimal_comma) * $dose_to_g AS dose_g,
        blank_to_null(product) AS product,
        blank_to_null(indication) AS indication,
        blank_to_null(diagnosis_code) AS diagnosis_code,
        blank_to_null(severity) AS severity,
        parse_yes_no(refractory, $yes_values, $no_values) AS refractory,
        parse_yes_no(plasma_exchange, $yes_values, $no_values) AS plasma_exchange,
        parse_yes_no(with_methylprednisolone, $yes_values, $no_values) AS with_methylprednisolone,
        blank_to_null(specialty) AS specialty,
        blank_to_null(department) AS department,
        blank_to_null(prescriber_id) AS prescriber_id,
        struct_pack(weight_kg, height_cm, dose_g, order_date, start_date, infusion_days, age_years, date_of_birth,
                    refractory, plasma_exchange, with_methylprednisolone) AS raw_record  -- the text, for the checks
    FROM raw LEFT JOIN stage.patients AS patients USING (site, patient_id)
),

derived AS (
    SELECT *,
        CAST(coalesce(date_sub('year', date_of_birth, order_date), floor(age_given)) AS INTEGER) AS age_years,
        coalesce(start_date_given, order_date) AS start_date,
        coalesce(infusion_days_given, 1) AS infusion_days
    FROM typed
)

SELECT
    source_row, order_id, site, patient_key, patient_seq,
    age_years, sex, weight_kg, height_cm, order_date, start_date, infusion_days, dose_g, product,
    indication, diagnosis_code, severity, refractory, plasma_exchange, with_methylprednisolone,
    specialty, department, prescriber_id,
    -- for the checks
    CASE WHEN order_id IS NOT NULL THEN coalesce(repeated.copies_in_file, 1) END AS copies_in_file,
    CASE WHEN order_id IS NOT NULL THEN 1 END AS versions_in_file,
    NULL::BIGINT AS identical_copy_of,
    dose_g / nullif(weight_kg, 0) AS dose_g_per_kg,
    blank_to_null(raw_record.weight_kg) AS weight_kg_text,
    blank_to_null(raw_record.dose_g) AS dose_g_text,
    blank_to_null(raw_record.order_date) AS order_date_text,
    coalesce(blank_to_null(raw_record.age_years), blank_to_null(raw_record.date_of_birth)) AS age_text,
    unparsed(raw_record.weight_kg, weight_kg) AS weight_kg_unparsed,
    unparsed(raw_record.height_cm, height_cm) AS height_cm_unparsed,
    unparsed(raw_record.dose_g, dose_g) AS dose_g_unparsed,
    unparsed(raw_record.order_date, order_date) AS order_date_unparsed,
    unparsed(raw_record.start_date, start_date_given) AS start_date_unparsed,
    unparsed(raw_record.infusion_days, infusion_days_given) AS infusion_days_unparsed,
    unparsed(raw_record.age_years, age_given) AS age_years_unparsed,
    CASE WHEN unparsed(raw_record.date_of_birth, date_of_birth) IS NOT NULL THEN 'withheld' END AS date_of_birth_unparsed,
    CASE WHEN date_of_birth > order_date THEN 'withheld' END AS date_of_birth_after_order,
    unparsed(raw_record.refractory, refractory) AS refractory_unparsed,
    unparsed(raw_record.plasma_exchange, plasma_exchange) AS plasma_exchange_unparsed,
    unparsed(raw_record.with_methylprednisolone, with_methylprednisolone) AS with_methylprednisolone_unparsed
FROM derived LEFT JOIN repeated USING (site, order_id);

UPDATE stage.staged AS s
SET versions_in_file = copies.versions_in_file, identical_copy_of = nullif(copies.first_copy, s.source_row)
FROM (
    SELECT source_row,
           count(DISTINCT content) OVER (PARTITION BY site, order_id) AS versions_in_file,
           min(source_row) OVER (PARTITION BY site, order_id, content) AS first_copy
    FROM (
        SELECT source_row, site, order_id,
               row(patient_key, age_years, sex, weight_kg, height_cm, order_date, start_date, infusion_days, dose_g,
                   product, indication, diagnosis_code, severity, refractory, plasma_exchange, with_methylprednisolone,
                   specialty, department, prescriber_id) AS content
        FROM stage.staged WHERE copies_in_file > 1
    )
) AS copies
WHERE s.source_row = copies.source_row;
