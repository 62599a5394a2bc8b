-- Grain: one row per distinct patient of one file (temp table raw_rows), before its rows are staged:
-- the keyed pseudonym (one HMAC per patient, not per row) and the patient's number. A patient seen
-- before keeps their patient_seq from patient_keys; new ones are numbered after the last, in order
-- of key, and added to patient_keys now, so that pipelines/ingest.py can drop this table once the
-- rows are staged: held until the load, it made the load spill (docs/performance.md). A number is
-- not data of the batch: a file that is then rejected or quarantined leaves only numbers for the
-- keys its quarantine rows show.
CREATE OR REPLACE TABLE stage.patients AS
SELECT site, patient_id, patient_key,
    coalesce(k.patient_seq, (SELECT coalesce(max(patient_seq), 0) FROM patient_keys)
             + row_number() OVER (PARTITION BY k.patient_seq IS NULL ORDER BY site, patient_key)) AS patient_seq
FROM (
    SELECT site, patient_id, patient_key_of(site, patient_id, $hmac_inner, $hmac_outer) AS patient_key
    FROM (SELECT DISTINCT coalesce(blank_to_null(site), $default_site) AS site,
                          blank_to_null(patient_id) AS patient_id
          FROM raw_rows)
    WHERE patient_id IS NOT NULL
)
LEFT JOIN patient_keys AS k USING (site, patient_key);

INSERT INTO patient_keys
SELECT patient_seq, site, patient_key FROM stage.patients
WHERE patient_seq > (SELECT coalesce(max(patient_seq), 0) FROM patient_keys);
