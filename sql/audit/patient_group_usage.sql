-- model: patient_group_usage
-- kind: incremental by patient
-- grain: one row per patient and group they were treated in, per dimension (specialty, prescriber,
--   site): their orders, weak-evidence orders and grams
-- reads: orders, profile_verdicts, audit_rulesets, patients_in_scope
--
-- A row per patient and prescriber is nearly one per order: the patient is their patient_seq, and
-- the marts count a group's patients as its rows (as patient_condition_usage).
WITH
scoped_orders AS (
    SELECT site, patient_seq, dose_g, specialty, prescriber_id, profile_id
    FROM orders SEMI JOIN patients_in_scope USING (patient_seq)
),

-- an order's verdict is its profile's (as in order_audit): the profiles the primary rule set grades
-- Level U or should not
weak_profiles AS (
    SELECT profile_id FROM profile_verdicts
    WHERE ruleset_id = (SELECT ruleset_id FROM audit_rulesets WHERE is_primary)
      AND recommendation IN ('insufficient_evidence', 'should_not')
),

audited AS (
    SELECT o.site, o.patient_seq, o.dose_g,
        coalesce(blank_to_null(trim(o.specialty)), '(not recorded)') AS specialty,
        o.site || ' ' || coalesce(blank_to_null(trim(o.prescriber_id)), '(not recorded)') AS prescriber,
        o.profile_id IN (SELECT profile_id FROM weak_profiles) AS weak
    FROM scoped_orders AS o
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
GROUP BY GROUPING SETS ((site, patient_seq, specialty), (site, patient_seq, prescriber), (site, patient_seq))
