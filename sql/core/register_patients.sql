-- The patients one file is the first to name (numbered by sql/staging/stg_patients.sql) join
-- patient_keys, inside the load's transaction (pipelines/ingest.py).
INSERT INTO patient_keys
SELECT patient_seq, site, patient_key FROM stage.patients
WHERE patient_seq > (SELECT coalesce(max(patient_seq), 0) FROM patient_keys);
