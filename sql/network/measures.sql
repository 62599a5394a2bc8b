-- Kind: network mart.
-- Grain: one row per site with a usable bundle (current or stale) and measure: the share of the
-- site's orders and of its grams graded Level U, should not, and outside the guideline, and the
-- share of its reviewed CIDP patients suspected of overuse; each against the network.
-- Inputs: network_sites, network_totals, network_recommendations, network_cidp.
-- The network's rate pools the current sites whose figures are not suppressed. Funnel limits
-- (Spiegelhalter, Stat Med 2005;24:1185-1202) are for counts of orders or patients: the network
-- rate +/- z * sqrt(p(1-p)/n) at the site's denominator n, z = 1.96 (95%) and 3.09 (99.8%), held
-- within 0..1 (the normal approximation to the binomial). Grams are not counts of independent
-- events, so grams shares get no funnel limits; every measure gets the site's percentile among the
-- sites (OpenPrescribing's deciles).
CREATE OR REPLACE TABLE network_measures AS
WITH
sites AS (
    SELECT site, status FROM network_sites WHERE status IN ('current', 'stale')
),

totals AS (
    SELECT site, orders, grams FROM network_totals
),

recommendations AS (
    SELECT site, recommendation, orders, grams FROM network_recommendations
),

cidp AS (
    SELECT site, patients_reviewed, overuse_suspected FROM network_cidp
),

measure_definitions AS (
    SELECT * FROM (VALUES
        (1, 'orders_level_u', 'Orders graded Level U (evidence insufficient)', 'Level U orders', 'insufficient_evidence', 'orders'),
        (2, 'orders_should_not', 'Orders that should not be considered', 'Should-not orders', 'should_not', 'orders'),
        (3, 'orders_outside_guideline', 'Orders outside the guideline', 'Outside-guideline orders', 'outside_guideline', 'orders'),
        (4, 'grams_level_u', 'Grams graded Level U (evidence insufficient)', 'Level U grams', 'insufficient_evidence', 'grams'),
        (5, 'grams_should_not', 'Grams that should not be considered', 'Should-not grams', 'should_not', 'grams'),
        (6, 'grams_outside_guideline', 'Grams outside the guideline', 'Outside-guideline grams', 'outside_guideline', 'grams'),
        (7, 'cidp_overuse_suspected', 'CIDP patients reviewed whose treatment is suspected of overuse', 'CIDP overuse suspected', NULL, 'patients')
    ) AS t(sort_order, measure, label, short_label, recommendation, unit)
),

site_values AS (
    SELECT s.site, s.status, d.sort_order, d.measure, d.label, d.short_label, d.unit,
        CASE d.unit WHEN 'orders' THEN r.orders ELSE r.grams END AS numerator,
        CASE d.unit WHEN 'orders' THEN t.orders ELSE t.grams END AS denominator
    FROM sites AS s
    JOIN totals AS t USING (site)
    JOIN measure_definitions AS d ON d.unit IN ('orders', 'grams')
    JOIN recommendations AS r ON r.site = s.site AND r.recommendation = d.recommendation
    UNION ALL
    SELECT s.site, s.status, d.sort_order, d.measure, d.label, d.short_label, d.unit, c.overuse_suspected, c.patients_reviewed
    FROM sites AS s
    JOIN cidp AS c USING (site)
    JOIN measure_definitions AS d ON d.unit = 'patients'
),

rated AS (
    SELECT *, CASE WHEN denominator > 0 THEN numerator / denominator END AS rate
    FROM site_values
),

network AS (
    SELECT measure, sum(numerator) / sum(denominator) AS network_rate, count(*) AS sites_pooled
    FROM rated
    WHERE status = 'current' AND rate IS NOT NULL
    GROUP BY measure
),

ranked AS (
    SELECT site, measure, round(100 * percent_rank() OVER (PARTITION BY measure ORDER BY rate)) AS percentile
    FROM rated
    WHERE rate IS NOT NULL
),

limits AS (
    SELECT r.*, n.network_rate, n.sites_pooled, k.percentile,
        CASE WHEN r.unit <> 'grams' AND r.denominator > 0
             THEN sqrt(n.network_rate * (1 - n.network_rate) / r.denominator) END AS standard_error
    FROM rated AS r
    LEFT JOIN network AS n USING (measure)
    LEFT JOIN ranked AS k USING (site, measure)
),

-- greatest and least skip NULLs: no standard error, no limits
bounded AS (
    SELECT *,
        CASE WHEN standard_error IS NOT NULL THEN greatest(0, network_rate - 3.09 * standard_error) END AS lower_998,
        CASE WHEN standard_error IS NOT NULL THEN greatest(0, network_rate - 1.96 * standard_error) END AS lower_95,
        CASE WHEN standard_error IS NOT NULL THEN least(1, network_rate + 1.96 * standard_error) END AS upper_95,
        CASE WHEN standard_error IS NOT NULL THEN least(1, network_rate + 3.09 * standard_error) END AS upper_998
    FROM limits
)

SELECT
    site, status, sort_order, measure, label, short_label, unit, numerator, denominator, rate, network_rate, sites_pooled,
    lower_998, lower_95, upper_95, upper_998,
    CASE WHEN rate IS NULL THEN 'suppressed'
         WHEN standard_error IS NULL THEN NULL
         WHEN rate > upper_998 THEN 'above 99.8% limit'
         WHEN rate > upper_95 THEN 'above 95% limit'
         WHEN rate < lower_998 THEN 'below 99.8% limit'
         WHEN rate < lower_95 THEN 'below 95% limit'
         ELSE 'within limits' END AS funnel_position,
    percentile
FROM bounded
ORDER BY sort_order, site;
