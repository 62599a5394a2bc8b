-- Kind: network table.
-- Grain: one row per site the network expects ($expected_sites) or that delivered bundles: the
-- bundle used and its status. current: a bundle passed the manifest check and its period ends
-- within $stale_after_days days of the newest period end among the sites; stale: it ends earlier;
-- missing: no bundle; refused: every bundle found was refused (network_bundles says why).
-- Inputs: network_bundles (every bundle the run looked at).
CREATE OR REPLACE TABLE network_sites AS
WITH
bundles AS (
    SELECT site, bundle, status, made_at, period_start, period_end FROM network_bundles
),

expected AS (
    SELECT unnest($expected_sites::VARCHAR[]) AS site
),

used AS (
    SELECT * FROM bundles WHERE status = 'used'
),

refused AS (
    SELECT site, count(*) AS refused_bundles FROM bundles WHERE status = 'refused' GROUP BY site
),

newest AS (
    SELECT max(period_end) AS newest_period_end FROM used
),

sites AS (
    SELECT site FROM expected UNION SELECT site FROM bundles
)

SELECT
    s.site,
    CASE WHEN u.site IS NULL AND r.refused_bundles > 0 THEN 'refused'
         WHEN u.site IS NULL THEN 'missing'
         WHEN u.period_end < n.newest_period_end - $stale_after_days::INTEGER THEN 'stale'
         ELSE 'current' END AS status,
    u.bundle,
    u.made_at,
    u.period_start,
    u.period_end,
    n.newest_period_end - u.period_end AS days_behind,
    coalesce(r.refused_bundles, 0) AS refused_bundles,
    s.site IN (SELECT site FROM expected) AS expected
FROM sites AS s
CROSS JOIN newest AS n
LEFT JOIN used AS u USING (site)
LEFT JOIN refused AS r USING (site)
ORDER BY s.site;
