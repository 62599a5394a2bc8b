-- Kind: network mart.
-- Grain: one row per site with a usable bundle (current or stale) and condition its orders were
-- classified to: grams per patient, against the network's (the current sites whose grams and
-- patients are both shown) and the site's percentile among the sites.
-- Inputs: network_sites, network_conditions.
CREATE OR REPLACE TABLE network_condition_grams AS
WITH
sites AS (
    SELECT site, status FROM network_sites WHERE status IN ('current', 'stale')
),

conditions AS (
    SELECT site, condition, condition_label, patients, grams FROM network_conditions
),

site_values AS (
    SELECT s.site, s.status, c.condition, c.condition_label, c.patients, c.grams,
        CASE WHEN c.patients > 0 AND c.grams IS NOT NULL THEN c.grams / c.patients END AS grams_per_patient
    FROM sites AS s
    JOIN conditions AS c USING (site)
),

network AS (
    SELECT condition, sum(grams) / sum(patients) AS network_grams_per_patient, count(*) AS sites_pooled
    FROM site_values
    WHERE status = 'current' AND grams_per_patient IS NOT NULL
    GROUP BY condition
),

ranked AS (
    SELECT site, condition,
        round(100 * percent_rank() OVER (PARTITION BY condition ORDER BY grams_per_patient)) AS percentile
    FROM site_values
    WHERE grams_per_patient IS NOT NULL
)

SELECT
    v.site, v.status, v.condition, v.condition_label, v.patients, v.grams, v.grams_per_patient,
    n.network_grams_per_patient, n.sites_pooled,
    v.grams_per_patient / n.network_grams_per_patient AS ratio_to_network,
    k.percentile
FROM site_values AS v
LEFT JOIN network AS n ON n.condition IS NOT DISTINCT FROM v.condition
LEFT JOIN ranked AS k ON k.site = v.site AND k.condition IS NOT DISTINCT FROM v.condition
ORDER BY v.condition_label, v.site;
