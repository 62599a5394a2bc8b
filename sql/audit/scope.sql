-- What this run's classification and treatment analysis must (re)build: the orders loaded by
-- batches numbered $since_batch or later, and the patients of those orders, of the rows they
-- replaced and of new assessments. $since_batch = 0 means everything (a full rebuild, when the
-- guideline data or the SQL changed). Each derived table then replaces its rows in scope.
CREATE OR REPLACE TEMP TABLE orders_in_scope AS
SELECT site, order_id FROM orders WHERE batch_id >= $since_batch;

CREATE OR REPLACE TEMP TABLE patients_in_scope AS
SELECT site, patient_key FROM orders WHERE batch_id >= $since_batch
UNION SELECT site, patient_key FROM orders_history WHERE replaced_by_batch_id >= $since_batch
UNION SELECT site, patient_key FROM assessments WHERE batch_id >= $since_batch
UNION SELECT site, patient_key FROM assessments_history WHERE replaced_by_batch_id >= $since_batch;
