-- Kind: site bundle table (temporary; pipelines/bundle.py writes it to totals.parquet).
-- Grain: one row: the site's orders, patients and grams in the bundle's period.
-- Inputs: order_audit (the orders of site $site dated $period_start to $period_end).
-- Small numbers: a count of 1 to 4 is NULL, and the grams with it (suppressed_cell, sql/macros.sql).
CREATE OR REPLACE TEMP TABLE bundle_totals AS
WITH
orders_in_period AS (
    SELECT patient_seq, dose_g
    FROM order_audit
    WHERE site = $site AND order_date BETWEEN $period_start AND $period_end
),

counted AS (
    SELECT count(*) AS orders, count(DISTINCT patient_seq) AS patients, coalesce(sum(dose_g), 0) AS grams
    FROM orders_in_period
)

SELECT
    CASE WHEN NOT suppressed_cell(orders, 'orders', 0) THEN orders END AS orders,
    CASE WHEN NOT suppressed_cell(patients, 'patients', 0) THEN patients END AS patients,
    CASE WHEN NOT suppressed_cell(orders, 'orders', 0) THEN grams END AS grams
FROM counted;
