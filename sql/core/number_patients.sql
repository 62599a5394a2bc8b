-- Numbers the patients of a database made before patient_keys (pipelines/ingest.py runs it when a
-- row has no patient_seq): each distinct (site, patient_key) gets the next patient_seq, and every
-- row of orders, assessments and their histories takes its patient's number.
INSERT INTO patient_keys
SELECT (SELECT coalesce(max(patient_seq), 0) FROM patient_keys) + row_number() OVER (ORDER BY site, patient_key),
       site, patient_key
FROM (SELECT site, patient_key FROM orders WHERE patient_seq IS NULL
      UNION SELECT site, patient_key FROM orders_history WHERE patient_seq IS NULL
      UNION SELECT site, patient_key FROM assessments WHERE patient_seq IS NULL
      UNION SELECT site, patient_key FROM assessments_history WHERE patient_seq IS NULL)
ANTI JOIN patient_keys USING (site, patient_key);

UPDATE orders SET patient_seq = k.patient_seq FROM patient_keys AS k
WHERE orders.patient_seq IS NULL AND k.site = orders.site AND k.patient_key = orders.patient_key;
UPDATE orders_history SET patient_seq = k.patient_seq FROM patient_keys AS k
WHERE orders_history.patient_seq IS NULL AND k.site = orders_history.site AND k.patient_key = orders_history.patient_key;
UPDATE assessments SET patient_seq = k.patient_seq FROM patient_keys AS k
WHERE assessments.patient_seq IS NULL AND k.site = assessments.site AND k.patient_key = assessments.patient_key;
UPDATE assessments_history SET patient_seq = k.patient_seq FROM patient_keys AS k
WHERE assessments_history.patient_seq IS NULL AND k.site = assessments_history.site
  AND k.patient_key = assessments_history.patient_key;
