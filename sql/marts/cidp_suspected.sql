-- model: mart_cidp_suspected
-- kind: full
-- grain: one row per CIDP patient whose treatment the review suspects of overuse, those with the
--   most flags that suspect overuse first (then the longest treated), with the reasons in words, and the way back to the case for the clinician:
--   the latest order's id, prescriber and specialty (never the hospital number)
-- reads: cidp_suspected_patients
--
-- The rows of cidp_suspected_patients, which each run rebuilds for the patients it touched, in order.
SELECT * EXCLUDE (patient_seq, patient_key, n_suspecting)
FROM cidp_suspected_patients
ORDER BY n_suspecting DESC, months_on_treatment DESC, site, patient_key;
