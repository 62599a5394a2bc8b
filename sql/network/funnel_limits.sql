-- Kind: network mart.
-- Grain: one row per count measure of network_measures (orders, patients) and denominator n on a
-- grid of 100 steps from 1 to 1.1 times the largest site's: the funnel plot's control limits.
-- Inputs: network_measures.
-- The limits are those of network_measures (Spiegelhalter 2005): network rate +/- z * sqrt(p(1-p)/n),
-- z = 1.96 and 3.09, held within 0..1.
CREATE OR REPLACE TABLE network_funnel_limits AS
WITH
measures AS (
    SELECT measure, any_value(network_rate) AS network_rate, max(denominator) AS largest
    FROM network_measures
    WHERE unit <> 'grams' AND network_rate IS NOT NULL
    GROUP BY measure
),

grid AS (
    SELECT DISTINCT m.measure, m.network_rate, greatest(1, round(1.1 * m.largest * step / 100))::BIGINT AS n
    FROM measures AS m, range(1, 101) AS r(step)
),

spread AS (
    SELECT *, sqrt(network_rate * (1 - network_rate) / n) AS standard_error FROM grid
)

SELECT
    measure,
    n,
    network_rate,
    greatest(0, network_rate - 3.09 * standard_error) AS lower_998,
    greatest(0, network_rate - 1.96 * standard_error) AS lower_95,
    least(1, network_rate + 1.96 * standard_error) AS upper_95,
    least(1, network_rate + 3.09 * standard_error) AS upper_998
FROM spread
ORDER BY measure, n;
