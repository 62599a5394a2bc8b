-- Grain: one row per patient and group they were treated in: per condition and recommendation
-- (patient_condition_usage; with outside_guideline's reason, which follows from the condition), and per specialty, prescriber and site (patient_group_usage), with
-- their orders and grams. The marts then count a group's patients as its rows instead of counting
-- distinct patients over every order; the patients in scope (sql/audit/scope.sql) get their rows
-- rebuilt, so a run's work follows the patients it touched. A patient is their patient_seq
-- (patient_keys): a row per patient and prescriber is nearly one per order, and the 64-character
-- key would be most of what these tables write.
CREATE TABLE IF NOT EXISTS patient_condition_usage (
    site             VARCHAR,
    patient_seq      BIGINT,
    condition        VARCHAR,
    recommendation   VARCHAR,
    outside_reason   VARCHAR,
    orders           BIGINT,
    grams            DOUBLE,
    first_order_date DATE,
    last_order_date  DATE
);

DELETE FROM patient_condition_usage WHERE patient_seq IN (SELECT patient_seq FROM patients_in_scope);

INSERT INTO patient_condition_usage BY NAME
SELECT site, patient_seq, condition, recommendation, outside_reason, count(*) AS orders, sum(dose_g) AS grams,
       min(order_date) AS first_order_date, max(order_date) AS last_order_date
FROM order_audit SEMI JOIN patients_in_scope USING (patient_seq)
GROUP BY ALL;

CREATE TABLE IF NOT EXISTS patient_group_usage (
    site        VARCHAR,
    patient_seq BIGINT,
    dimension   VARCHAR,  -- specialty | prescriber | site
    group_value VARCHAR,
    orders      BIGINT,
    weak_orders BIGINT,
    grams       DOUBLE
);

DELETE FROM patient_group_usage WHERE patient_seq IN (SELECT patient_seq FROM patients_in_scope);

INSERT INTO patient_group_usage BY NAME
WITH
audited AS (
    -- every order is in order_audit; only the few weak-evidence ones are looked up there
    SELECT o.site, o.patient_seq, o.dose_g,
        coalesce(blank_to_null(trim(o.specialty)), '(not recorded)') AS specialty,
        o.site || ' ' || coalesce(blank_to_null(trim(o.prescriber_id)), '(not recorded)') AS prescriber,
        weak.order_id IS NOT NULL AS weak
    FROM orders AS o SEMI JOIN patients_in_scope USING (patient_seq)
    LEFT JOIN (SELECT site, order_id FROM order_audit
               WHERE recommendation IN ('insufficient_evidence', 'should_not')) AS weak USING (site, order_id)
)
SELECT
    site, patient_seq,
    CASE WHEN grouping(specialty) = 0 THEN 'specialty'
         WHEN grouping(prescriber) = 0 THEN 'prescriber' ELSE 'site' END AS dimension,
    coalesce(specialty, prescriber, site) AS group_value,
    count(*) AS orders,
    count(*) FILTER (WHERE weak) AS weak_orders,
    sum(dose_g) AS grams
FROM audited
GROUP BY GROUPING SETS ((site, patient_seq, specialty), (site, patient_seq, prescriber), (site, patient_seq));
