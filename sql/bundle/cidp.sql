-- Kind: site bundle table (temporary; pipelines/bundle.py writes it to cidp.parquet).
-- Grain: one row: CIDP patients reviewed whose latest course falls in the bundle's period, and how
-- many of them the review suspects of overuse (cidp_review as of the site's latest run).
-- Inputs: cidp_review (site $site, latest_course_date from $period_start to $period_end).
-- Small numbers: suspected and not suspected are the two cells of the reviewed total; a cell of 1
-- to 4 hides both (its complement would give it away), so overuse_suspected is NULL; a total of 1
-- to 4 is NULL too (suppressed_cell, sql/macros.sql).
CREATE OR REPLACE TEMP TABLE bundle_cidp AS
WITH
reviewed_in_period AS (
    SELECT overuse_suspected
    FROM cidp_review
    WHERE site = $site AND latest_course_date BETWEEN $period_start AND $period_end
),

counted AS (
    SELECT count(*) AS reviewed, count(*) FILTER (WHERE overuse_suspected) AS suspected
    FROM reviewed_in_period
),

cells AS (
    SELECT 'suspected' AS cell, suspected AS n FROM counted
    UNION ALL
    SELECT 'not_suspected' AS cell, reviewed - suspected AS n FROM counted
),

hidden AS (
    SELECT bool_or(hidden) AS any_hidden
    FROM (SELECT suppressed_cell(n, 'cidp', cell) AS hidden FROM cells)
)

SELECT
    CASE WHEN NOT suppressed_cell(c.reviewed, 'reviewed', 0) THEN c.reviewed END AS patients_reviewed,
    CASE WHEN NOT h.any_hidden THEN c.suspected END AS overuse_suspected
FROM counted AS c, hidden AS h;
