-- model: mart_quarterly_usage_periods_by_condition
-- kind: full
-- grain: one row per kind of period and the quarter it ends with (as mart_quarterly_usage_periods)
--   and condition: its grams in the period and in the period before, and the change; the biggest
--   changes first within each period.
-- reads: mart_quarterly_usage_periods, mart_quarterly_usage
WITH
periods AS (
    SELECT period_kind, ending_quarter, period_start, previous_start FROM mart_quarterly_usage_periods
),

usage AS (
    SELECT quarter, condition_label, grams FROM mart_quarterly_usage WHERE condition_label IS NOT NULL
),

compared AS (
    SELECT
        p.period_kind, p.ending_quarter, u.condition_label,
        coalesce(sum(u.grams) FILTER (WHERE u.quarter >= p.period_start), 0) AS grams,
        coalesce(sum(u.grams) FILTER (WHERE u.quarter < p.period_start), 0) AS previous_grams
    FROM periods AS p
    JOIN usage AS u ON u.quarter BETWEEN p.previous_start AND p.ending_quarter
    GROUP BY ALL
)

SELECT *, grams - previous_grams AS change_grams
FROM compared
ORDER BY period_kind, ending_quarter, abs(grams - previous_grams) DESC, condition_label;
