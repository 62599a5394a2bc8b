-- Kind: view. Grain: one row per order in `orders`: the order's key, patient, grams and profile.
-- Inputs: orders, audit_profiles. The link from an order to its verdicts (order_verdicts,
-- order_audit): a join on the profile's columns to the small profile table, so no per-order copy is
-- written when orders are classified or audited again.
CREATE OR REPLACE VIEW order_profiles AS
WITH
orders_in AS (
    SELECT site, order_id, patient_seq, dose_g, indication, diagnosis_code, age_years, specialty, severity, refractory,
           plasma_exchange, with_methylprednisolone
    FROM orders
),

profiles AS (
    SELECT * FROM audit_profiles
)

SELECT o.site, o.order_id, o.patient_seq, o.dose_g, p.profile_id
FROM orders_in AS o
JOIN profiles AS p
  ON p.indication IS NOT DISTINCT FROM o.indication AND p.diagnosis_code IS NOT DISTINCT FROM o.diagnosis_code
 AND p.age_years IS NOT DISTINCT FROM o.age_years AND p.specialty IS NOT DISTINCT FROM o.specialty
 AND p.severity IS NOT DISTINCT FROM o.severity AND p.refractory IS NOT DISTINCT FROM o.refractory
 AND p.plasma_exchange IS NOT DISTINCT FROM o.plasma_exchange
 AND p.with_methylprednisolone IS NOT DISTINCT FROM o.with_methylprednisolone;
