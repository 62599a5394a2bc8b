-- model: mart_audit_coverage
-- kind: full
-- grain: one row: the period and sites the audited orders cover, and how fresh the data is
-- reads: patient_condition_usage, ingest_batches
SELECT
    (SELECT min(first_order_date) FROM patient_condition_usage) AS first_order_date,
    (SELECT max(last_order_date) FROM patient_condition_usage) AS last_order_date,
    (SELECT list(DISTINCT site ORDER BY site) FROM patient_condition_usage) AS sites,
    (SELECT sum(orders)::BIGINT FROM patient_condition_usage) AS orders,
    (SELECT count(DISTINCT patient_seq) FROM patient_condition_usage) AS patients,
    (SELECT sum(grams) FROM patient_condition_usage) AS grams,
    (SELECT max(finished_at) FROM ingest_batches WHERE status = 'loaded') AS last_loaded_at;
