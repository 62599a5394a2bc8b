-- Grain: one row: the period and sites the audited orders cover, and how fresh the data is.
CREATE OR REPLACE TABLE mart_audit_coverage AS
SELECT
    (SELECT min(order_date) FROM order_audit) AS first_order_date,
    (SELECT max(order_date) FROM order_audit) AS last_order_date,
    (SELECT list(DISTINCT site ORDER BY site) FROM order_audit) AS sites,
    (SELECT count(*) FROM order_audit) AS orders,
    (SELECT count(DISTINCT (site, patient_key)) FROM order_audit) AS patients,
    (SELECT sum(dose_g) FROM order_audit) AS grams,
    (SELECT max(finished_at) FROM ingest_batches WHERE status = 'loaded') AS last_loaded_at;
