-- What this run's classification and treatment analysis must (re)build: the orders loaded by
-- batches numbered $since_batch or later (read as such by sql/audit/indication_resolution.sql and
-- order_audit.sql), and the patients of those orders, of the rows they replaced and of new
-- assessments. $since_batch = 0 means everything: a full rebuild, when the guideline data or the
-- SQL changed, into derived tables dropped beforehand. Each derived table replaces its rows in scope.

-- orders whose earlier classification is replaced (none in a full rebuild: the table was dropped)
CREATE OR REPLACE TEMP TABLE orders_to_replace AS
SELECT site, order_id FROM orders WHERE $since_batch > 0 AND batch_id >= $since_batch;

-- by patient_seq (patient_keys): the tables rebuilt per patient hold it, and the treatment analysis
-- keys its windows and groups on it rather than on the 64-character patient_key.
CREATE OR REPLACE TEMP TABLE patients_in_scope AS
SELECT patient_seq FROM orders WHERE batch_id >= $since_batch
UNION SELECT patient_seq FROM orders_history WHERE replaced_by_batch_id >= $since_batch
UNION SELECT patient_seq FROM assessments WHERE batch_id >= $since_batch
UNION SELECT patient_seq FROM assessments_history WHERE replaced_by_batch_id >= $since_batch;
