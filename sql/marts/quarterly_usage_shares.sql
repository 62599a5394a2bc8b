-- model: mart_quarterly_usage_shares
-- kind: full
-- grain: one row per quarter and scope (all: every site together; or one site): the share of grams
--   graded Level U or should not, should not alone, and outside the guideline, in per cent (empty
--   for a quarter without orders). The trend chart draws the all line, with the sites' lowest and
--   highest shares as a band when there is more than one site.
-- reads: mart_quarterly_usage
WITH
usage AS (
    SELECT * FROM mart_quarterly_usage
),

scoped AS (
    SELECT quarter, 'all' AS scope, recommendation, grams FROM usage
    UNION ALL
    SELECT quarter, site AS scope, recommendation, grams FROM usage
),

summed AS (
    SELECT
        quarter, scope,
        sum(grams) AS grams,
        sum(grams) FILTER (WHERE recommendation IN ('insufficient_evidence', 'should_not')) AS weak_grams,
        sum(grams) FILTER (WHERE recommendation = 'should_not') AS should_not_grams,
        sum(grams) FILTER (WHERE recommendation = 'outside_guideline') AS outside_grams
    FROM scoped
    GROUP BY ALL
)

SELECT
    quarter, scope, grams,
    round(100.0 * coalesce(weak_grams, 0) / nullif(grams, 0), 1) AS pct_weak_grams,
    round(100.0 * coalesce(should_not_grams, 0) / nullif(grams, 0), 1) AS pct_should_not_grams,
    round(100.0 * coalesce(outside_grams, 0) / nullif(grams, 0), 1) AS pct_outside_grams
FROM summed
ORDER BY quarter, scope;
