-- Kind: network mart.
-- Grain: one row per site with a usable bundle (current or stale) and calendar quarter: orders,
-- grams, and the shares of grams graded Level U or should not (weak evidence) and outside the
-- guideline; empty where the bundle suppressed a figure they need. Each site's trend.
-- Inputs: network_sites, network_quarters.
CREATE OR REPLACE TABLE network_quarterly AS
WITH
sites AS (
    SELECT site, status FROM network_sites WHERE status IN ('current', 'stale')
),

quarters AS (
    SELECT site, quarter, order_group, orders, grams FROM network_quarters
),

pivoted AS (
    SELECT site, quarter,
        any_value(orders) FILTER (WHERE order_group = 'all') AS orders,
        any_value(grams) FILTER (WHERE order_group = 'all') AS grams,
        any_value(grams) FILTER (WHERE order_group = 'weak_evidence') AS weak_evidence_grams,
        any_value(grams) FILTER (WHERE order_group = 'outside_guideline') AS outside_guideline_grams
    FROM quarters
    GROUP BY site, quarter
)

SELECT
    s.site, s.status, p.quarter, p.orders, p.grams, p.weak_evidence_grams, p.outside_guideline_grams,
    CASE WHEN p.grams > 0 THEN p.weak_evidence_grams / p.grams END AS weak_evidence_share,
    CASE WHEN p.grams > 0 THEN p.outside_guideline_grams / p.grams END AS outside_guideline_share
FROM sites AS s
JOIN pivoted AS p USING (site)
ORDER BY s.site, p.quarter;
