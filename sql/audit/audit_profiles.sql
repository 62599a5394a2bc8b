-- Kind: incremental by batch (rows are only added). Grain: one row per distinct order profile: the
-- columns a verdict depends on (indication, code, age, specialty and the structured population
-- columns), numbered in the order first seen. Inputs: orders (batches since $since_batch),
-- audit_profiles. Orders are classified per profile (sql/audit/profile_verdicts.sql) and reach
-- their verdict through the profile (order_profiles.sql), so the cost of classifying, and of
-- auditing again under another rule set, follows the distinct profiles, not the orders. A profile no
-- order has any more (after a correction) stays: no order reads it.
CREATE TABLE IF NOT EXISTS audit_profiles (
    profile_id              BIGINT NOT NULL,
    indication              VARCHAR,
    diagnosis_code          VARCHAR,
    age_years               INTEGER,
    specialty               VARCHAR,
    severity                VARCHAR,
    refractory              BOOLEAN,
    plasma_exchange         BOOLEAN,
    with_methylprednisolone BOOLEAN
);

INSERT INTO audit_profiles BY NAME
WITH
scoped_orders AS (
    SELECT indication, diagnosis_code, age_years, specialty, severity, refractory, plasma_exchange,
           with_methylprednisolone
    FROM orders WHERE batch_id >= $since_batch
),

known_profiles AS (
    SELECT * FROM audit_profiles
),

new_profiles AS (
    SELECT DISTINCT * FROM scoped_orders AS o
    WHERE NOT EXISTS (
        SELECT 1 FROM known_profiles AS p
        WHERE p.indication IS NOT DISTINCT FROM o.indication AND p.diagnosis_code IS NOT DISTINCT FROM o.diagnosis_code
          AND p.age_years IS NOT DISTINCT FROM o.age_years AND p.specialty IS NOT DISTINCT FROM o.specialty
          AND p.severity IS NOT DISTINCT FROM o.severity AND p.refractory IS NOT DISTINCT FROM o.refractory
          AND p.plasma_exchange IS NOT DISTINCT FROM o.plasma_exchange
          AND p.with_methylprednisolone IS NOT DISTINCT FROM o.with_methylprednisolone)
)

SELECT
    (SELECT coalesce(max(profile_id), 0) FROM known_profiles)
        + row_number() OVER (ORDER BY indication, diagnosis_code, age_years, specialty, severity, refractory,
                                      plasma_exchange, with_methylprednisolone) AS profile_id,
    *
FROM new_profiles;
