-- Orders without a profile number: those of a database made before orders.profile_id, and the one
-- order `ivig-audit classify` writes (pipelines/single_order.py). Grain: adds a row to audit_profiles
-- per distinct profile those orders have that it lacks (profiles_to_register, sql/macros.sql, as
-- sql/core/load_orders.sql does for the orders it loads), then gives each of those
-- orders its profile's number. Run by pipelines/classify.py when an order has none; the orders an
-- extract loads get theirs at load.
CREATE OR REPLACE TEMP VIEW unprofiled AS SELECT * FROM orders WHERE profile_id IS NULL;

INSERT INTO audit_profiles BY NAME SELECT * FROM profiles_to_register('unprofiled');

UPDATE orders AS o SET profile_id = p.profile_id
FROM audit_profiles AS p
WHERE o.profile_id IS NULL
  AND p.indication IS NOT DISTINCT FROM o.indication AND p.diagnosis_code IS NOT DISTINCT FROM o.diagnosis_code
  AND p.age_years IS NOT DISTINCT FROM o.age_years AND p.specialty IS NOT DISTINCT FROM o.specialty
  AND p.severity IS NOT DISTINCT FROM o.severity AND p.refractory IS NOT DISTINCT FROM o.refractory
  AND p.plasma_exchange IS NOT DISTINCT FROM o.plasma_exchange
  AND p.with_methylprednisolone IS NOT DISTINCT FROM o.with_methylprednisolone;

DROP VIEW unprofiled;
