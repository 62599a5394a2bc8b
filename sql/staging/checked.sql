-- Grain: one row per staged row (stage.staged), with the results of the checks attached:
-- reasons (every failed quarantine check, "id: message") and dq_flags (every failed flag check).
-- When the whole file is rejected ($file_problem), every row is held back with that reason.
-- A view: the load reads it once.
SET VARIABLE file_problem = $file_problem;

CREATE OR REPLACE TEMP VIEW checked AS
WITH
failures AS (
    SELECT
        f.source_row,
        list(c.check_id || ': ' || c.message ORDER BY c.check_order) FILTER (WHERE c.severity = 'quarantine') AS reasons,
        list(c.check_id ORDER BY c.check_order) FILTER (WHERE c.severity = 'flag') AS dq_flags
    FROM stage.check_failures AS f
    JOIN stage.check_registry AS c USING (check_id)
    GROUP BY f.source_row
)

SELECT
    s.*,
    CASE WHEN getvariable('file_problem') IS NOT NULL THEN ['file_rejected: ' || getvariable('file_problem')]
         ELSE coalesce(f.reasons, []) END AS reasons,
    coalesce(f.dq_flags, []) AS dq_flags
FROM stage.staged AS s
LEFT JOIN failures AS f USING (source_row);
