-- model: mart_quarantine_reasons
-- kind: full
-- grain: one row per quarantine reason (check id and message): rows quarantined for it, over
--   all batches, commonest first
-- reads: quarantine
SELECT reason, count(*) AS rows, count(DISTINCT batch_id) AS batches
FROM quarantine, unnest(reasons) AS r(reason)
GROUP BY reason
ORDER BY rows DESC, reason;
