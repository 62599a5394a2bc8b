-- model: mart_quarterly_usage_periods
-- kind: full
-- grain: one row per kind of period (quarter: one calendar quarter; 12 months: four quarters) and
--   the quarter it ends with, for every quarter with orders: the period's orders and grams, the
--   grams graded Level U, should not, and outside the guideline (split into conditions outside
--   neuromuscular disease and neuromuscular uses the guideline does not grade), with the same for
--   the period before it of the same length. `complete` says whether the period ended before the
--   data was last loaded (a quarter still running is not complete). The committee pack's findings
--   compare a period with the one before from these rows.
-- reads: mart_quarterly_usage, ingest_batches
WITH
usage AS (
    SELECT * FROM mart_quarterly_usage
),

kinds AS (
    SELECT * FROM (VALUES ('quarter', 1), ('12 months', 4)) AS t(period_kind, quarters)
),

by_quarter AS (
    SELECT
        quarter,
        sum(orders)::BIGINT AS orders,
        sum(grams) AS grams,
        coalesce(sum(grams) FILTER (WHERE recommendation = 'insufficient_evidence'), 0) AS level_u_grams,
        coalesce(sum(grams) FILTER (WHERE recommendation = 'should_not'), 0) AS should_not_grams,
        coalesce(sum(grams) FILTER (WHERE recommendation = 'outside_guideline'), 0) AS outside_grams,
        coalesce(sum(grams) FILTER (WHERE recommendation = 'outside_guideline' AND NOT coalesce(neuromuscular, false)), 0)
            AS outside_other_grams,
        coalesce(sum(grams) FILTER (WHERE recommendation = 'outside_guideline' AND neuromuscular), 0)
            AS outside_neuromuscular_grams
    FROM usage
    GROUP BY quarter
),

periods AS (
    SELECT
        k.period_kind,
        e.quarter AS ending_quarter,
        (e.quarter - to_months(3 * (k.quarters - 1)))::DATE AS period_start,
        (e.quarter + INTERVAL 3 MONTH - INTERVAL 1 DAY)::DATE AS period_end,
        (e.quarter - to_months(3 * (2 * k.quarters - 1)))::DATE AS previous_start,
        (e.quarter - to_months(3 * k.quarters) + INTERVAL 3 MONTH - INTERVAL 1 DAY)::DATE AS previous_end
    FROM by_quarter AS e
    CROSS JOIN kinds AS k
),

summed AS (
    SELECT
        p.*,
        p.period_end < (SELECT max(finished_at) FROM ingest_batches)::DATE AS complete,
        coalesce(sum(q.orders) FILTER (WHERE q.quarter >= p.period_start), 0)::BIGINT AS orders,
        coalesce(sum(q.grams) FILTER (WHERE q.quarter >= p.period_start), 0) AS grams,
        coalesce(sum(q.level_u_grams) FILTER (WHERE q.quarter >= p.period_start), 0) AS level_u_grams,
        coalesce(sum(q.should_not_grams) FILTER (WHERE q.quarter >= p.period_start), 0) AS should_not_grams,
        coalesce(sum(q.outside_grams) FILTER (WHERE q.quarter >= p.period_start), 0) AS outside_grams,
        coalesce(sum(q.outside_other_grams) FILTER (WHERE q.quarter >= p.period_start), 0) AS outside_other_grams,
        coalesce(sum(q.outside_neuromuscular_grams) FILTER (WHERE q.quarter >= p.period_start), 0)
            AS outside_neuromuscular_grams,
        coalesce(sum(q.orders) FILTER (WHERE q.quarter < p.period_start), 0)::BIGINT AS previous_orders,
        coalesce(sum(q.grams) FILTER (WHERE q.quarter < p.period_start), 0) AS previous_grams,
        coalesce(sum(q.level_u_grams + q.should_not_grams) FILTER (WHERE q.quarter < p.period_start), 0)
            AS previous_weak_grams,
        coalesce(sum(q.should_not_grams) FILTER (WHERE q.quarter < p.period_start), 0) AS previous_should_not_grams,
        coalesce(sum(q.outside_grams) FILTER (WHERE q.quarter < p.period_start), 0) AS previous_outside_grams
    FROM periods AS p
    LEFT JOIN by_quarter AS q ON q.quarter BETWEEN p.previous_start AND p.ending_quarter
    GROUP BY ALL
)

SELECT
    period_kind, ending_quarter, period_start, period_end, previous_start, previous_end, complete,
    orders, grams, level_u_grams, should_not_grams, level_u_grams + should_not_grams AS weak_grams,
    round(100.0 * (level_u_grams + should_not_grams) / nullif(grams, 0), 1) AS pct_weak_grams,
    round(100.0 * should_not_grams / nullif(grams, 0), 1) AS pct_should_not_grams,
    outside_grams, outside_other_grams, outside_neuromuscular_grams,
    round(100.0 * outside_grams / nullif(grams, 0), 1) AS pct_outside_grams,
    round(100.0 * outside_other_grams / nullif(grams, 0), 1) AS pct_outside_other_grams,
    round(100.0 * outside_neuromuscular_grams / nullif(grams, 0), 1) AS pct_outside_neuromuscular_grams,
    previous_orders, previous_grams, previous_weak_grams,
    round(100.0 * previous_weak_grams / nullif(previous_grams, 0), 1) AS previous_pct_weak_grams,
    round(100.0 * previous_should_not_grams / nullif(previous_grams, 0), 1) AS previous_pct_should_not_grams,
    round(100.0 * previous_outside_grams / nullif(previous_grams, 0), 1) AS previous_pct_outside_grams
FROM summed
ORDER BY period_kind, ending_quarter;
