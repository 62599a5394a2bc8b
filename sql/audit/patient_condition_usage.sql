-- model: patient_condition_usage
-- kind: incremental by patient
-- grain: one row per patient and the condition and recommendation they were treated under (with
--   outside_guideline's reason, which follows from the condition): their orders and grams
-- reads: order_audit, patients_in_scope
--
-- The marts then count a group's patients as its rows instead of counting distinct patients over
-- every order; the patients in scope (sql/audit/scope.sql) get their rows rebuilt, so a run's work
-- follows the patients it touched. A patient is their patient_seq (patient_keys): the 64-character
-- key would be most of what this table and patient_group_usage write.
WITH
audited AS (
    SELECT site, patient_seq, condition, recommendation, outside_reason, dose_g, order_date
    FROM order_audit SEMI JOIN patients_in_scope USING (patient_seq)
)

SELECT site, patient_seq, condition, recommendation, outside_reason, count(*) AS orders, sum(dose_g) AS grams,
       min(order_date) AS first_order_date, max(order_date) AS last_order_date
FROM audited
GROUP BY ALL
