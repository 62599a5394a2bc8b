-- Loads one staged orders file (stg_orders) as batch $batch_id, inside the caller's transaction.
-- Each row is exactly one of: quarantined (it has reasons), unchanged (an identical copy of the
-- loaded order), changed (a correction: the old row moves to orders_history), or new.
CREATE OR REPLACE TEMP TABLE stg_changes AS
SELECT s.*,
    CASE
        WHEN len(s.reasons) > 0 THEN 'quarantined'
        WHEN o.order_id IS NULL THEN 'new'
        WHEN o.row_hash = s.row_hash THEN 'unchanged'
        ELSE 'changed'
    END AS change_kind
FROM stg_orders AS s
LEFT JOIN orders AS o ON o.site = s.site AND o.order_id = s.order_id;

INSERT INTO quarantine (batch_id, source_row, reasons, record)
SELECT $batch_id, source_row, reasons, raw_json FROM stg_changes WHERE change_kind = 'quarantined'
UNION ALL
SELECT $batch_id, line - 1, list(DISTINCT 'csv: ' || lower(error_type) ORDER BY 1),
       json_object('unparsed_line_in_file', line)
FROM csv_rejects GROUP BY line;

INSERT INTO orders_history
SELECT o.*, $batch_id
FROM orders AS o JOIN stg_changes AS s USING (site, order_id)
WHERE s.change_kind = 'changed';

DELETE FROM orders
WHERE (site, order_id) IN (SELECT (site, order_id) FROM stg_changes WHERE change_kind = 'changed');

INSERT INTO orders BY NAME
SELECT * EXCLUDE (reasons, raw_json, change_kind), $batch_id AS batch_id
FROM stg_changes WHERE change_kind IN ('new', 'changed');
