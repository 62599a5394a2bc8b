-- Text and code normalisation shared by the vocabulary and the orders, so both sides of every
-- match are prepared the same way: Unicode NFC, accents stripped, lower case, doses such as
-- "2g/kg" or "500 mg" removed (so the unit "mg" is not read as myasthenia gravis), dotted
-- abbreviations joined, punctuation to single spaces.
CREATE OR REPLACE TEMP MACRO normalise_text(t) AS
    trim(regexp_replace(
        regexp_replace(
            regexp_replace(
                regexp_replace(lower(strip_accents(nfc_normalize(coalesce(t, '')))),
                               '\d+([.,]\d+)?\s*(mg|g|gm|gram|grams|ml|iu)\b(\s*/\s*kg)?', ' ', 'g'),
                '\b([a-z])\.', '\1', 'g'),  -- dotted abbreviations: c.i.d.p. -> cidp
            '[^a-z0-9]+', ' ', 'g'),
        '\s+', ' ', 'g'));

-- The words of a text for matching terms and context (sql/audit/indication_resolution.sql), in
-- order, case kept (a word typed in capitals is an acronym to the spelling correction): the
-- steps of normalise_text, but "h/o" -> "ho", "+ve" and "AChR+" -> positive, "-ve" -> negative,
-- a "?" after a word (not before one) -> queried, and the punctuation that ends a context scope
-- (";" "," "." and a dash with a space beside it, "-") and the query mark "?" kept as words; any
-- other dash joins words ("Guillain-Barre", "anti-MAG").
CREATE OR REPLACE TEMP MACRO indication_tokens(t) AS
    regexp_extract_all(
        replace(regexp_replace(
        regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(
        regexp_replace(
            strip_accents(nfc_normalize(coalesce(t, ''))),
            '(?i)\d+([.,]\d+)?\s*(mg|g|gm|gram|grams|ml|iu)\b(\s*/\s*kg)?', ' ', 'g'),
            '(?i)\b([a-z])\.', '\1', 'g'),
            '(?i)\b([a-z])/([a-z])\b', '\1\2', 'g'),
            '(?i)\+\s*ve\b|([a-z0-9])\+', '\1 positive ', 'g'),
            '(?i)[-‐‑–—]\s*ve\b', ' negative ', 'g'),
            '(?i)([a-z0-9])\?(\s*([^a-z0-9\s]|$))', '\1 queried \2', 'g'),
            '\s[-‐‑–—]+|[-‐‑–—]+\s|^[-‐‑–—]+|[-‐‑–—]+$', ' ' || chr(31) || ' ', 'g'),  -- a dash between words, kept
            '[-‐‑–—]', ' ', 'g'), chr(31), '-'),                                       -- one inside a word, a space
        '(?i)\d+(?:[.,]\d+)*|[a-z0-9]+|[;,.?-]');

-- The same words in lower case.
CREATE OR REPLACE TEMP MACRO indication_words(t) AS
    list_transform(indication_tokens(t), lambda w: lower(w));

-- A specialty matches a list of stems when one of its words starts with one of them.
CREATE OR REPLACE TEMP MACRO specialty_matches(specialty, stems) AS
    len(list_filter(string_split(normalise_text(specialty), ' '),
                    lambda w: w <> '' AND len(list_filter(stems, lambda s: starts_with(w, s))) > 0)) > 0;

-- ICD-10 codes compare without dots, spaces or case: "g61.81" -> "G6181".
CREATE OR REPLACE TEMP MACRO normalise_code(c) AS
    upper(regexp_replace(coalesce(c, ''), '[^A-Za-z0-9]', '', 'g'));

-- Whole-word containment on normalised text.
CREATE OR REPLACE TEMP MACRO has_phrase(text_norm, phrase) AS
    contains(' ' || text_norm || ' ', ' ' || phrase || ' ');

-- Parsing extract fields (all read as text). Blank is NULL; text that does not parse is NULL too,
-- and the staging model keeps it in a <column>_unparsed column for the checks to report.
CREATE OR REPLACE TEMP MACRO blank_to_null(v) AS nullif(trim(v), '');

CREATE OR REPLACE TEMP MACRO parse_number(v, decimal_comma) AS
    try_cast(CASE WHEN decimal_comma THEN replace(blank_to_null(v), ',', '.') ELSE blank_to_null(v) END AS DOUBLE);

-- The site's formats first (e.g. day-first '%d/%m/%Y'), then ISO dates and timestamps.
CREATE OR REPLACE TEMP MACRO parse_date(v, formats) AS
    coalesce(try_strptime(blank_to_null(v), formats)::DATE, try_cast(blank_to_null(v) AS TIMESTAMP)::DATE);

CREATE OR REPLACE TEMP MACRO parse_yes_no(v, yes_values, no_values) AS
    CASE WHEN list_contains(yes_values, lower(trim(v))) THEN true
         WHEN list_contains(no_values, lower(trim(v))) THEN false END;

-- The keyed pseudonym of a patient: HMAC-SHA256 (RFC 2104) of site, unit separator and hospital
-- number, from the padded keys pipelines/pseudonym.py binds as $hmac_inner and $hmac_outer.
CREATE OR REPLACE TEMP MACRO patient_key_of(site, patient_id, hmac_inner, hmac_outer) AS
    sha256(hmac_outer || unhex(sha256(hmac_inner || encode(site || chr(31) || patient_id))));

-- The text of a field that is present but did not parse, for the checks; NULL otherwise.
CREATE OR REPLACE TEMP MACRO unparsed(v, parsed) AS
    CASE WHEN blank_to_null(v) IS NOT NULL AND parsed IS NULL THEN blank_to_null(v) END;

CREATE OR REPLACE TEMP MACRO yes_no_unknown(b) AS
    CASE WHEN b THEN 'yes' WHEN NOT b THEN 'no' ELSE 'unknown' END;

-- A number as people write it: 3, 0.5, 47.5 (no trailing zeros); for reasons in words.
CREATE OR REPLACE TEMP MACRO plain_number(v) AS printf('%g', CAST(v AS DOUBLE));

-- `now` is at least `fraction` below `before` (rounded, so 0.9 x 1.0 counts as 10% less).
CREATE OR REPLACE TEMP MACRO reduced(now, before, fraction) AS round(now, 6) <= round((1 - fraction) * before, 6);

-- Text a spreadsheet would run as a formula gets a leading apostrophe (CSV exports).
CREATE OR REPLACE TEMP MACRO neutralise_formula(v) AS
    CASE WHEN regexp_matches(v, '^[=+\-@\t\r]') THEN '''' || v ELSE v END;

-- Small-number suppression (the committee dashboard's and the site bundle's rule): a count of 1 to
-- 4 is hidden, and in a partition (one column of a table whose total is shown) that has exactly one
-- such count, the smallest count of 5 or more is hidden too, so the small one cannot be worked out
-- by subtraction. Zero is shown. `tiebreak` orders equal counts. Holds window functions: use it in
-- a SELECT over the partition's cells.
CREATE OR REPLACE TEMP MACRO suppressed_cell(n, part, tiebreak) AS
    n BETWEEN 1 AND 4
    OR (n >= 5
        AND count(*) FILTER (WHERE n BETWEEN 1 AND 4) OVER (PARTITION BY part) = 1
        AND row_number() OVER (PARTITION BY part, n >= 5 ORDER BY n, tiebreak) = 1);

-- The profiles (indication, diagnosis_code, age_years, specialty, severity, refractory,
-- plasma_exchange, with_methylprednisolone: the columns a verdict depends on) of the table or view
-- named `seen` that audit_profiles lacks, numbered after its last in the order of their columns,
-- for INSERT INTO audit_profiles BY NAME: a profile keeps its number once given.
CREATE OR REPLACE TEMP MACRO profiles_to_register(seen) AS TABLE
    SELECT (SELECT coalesce(max(profile_id), 0) FROM audit_profiles)
               + row_number() OVER (ORDER BY indication, diagnosis_code, age_years, specialty, severity, refractory,
                                             plasma_exchange, with_methylprednisolone) AS profile_id,
           *
    FROM (SELECT DISTINCT indication, diagnosis_code, age_years, specialty, severity, refractory, plasma_exchange,
                          with_methylprednisolone
          FROM query_table(seen)) AS s
    WHERE NOT EXISTS (
        SELECT 1 FROM audit_profiles AS p
        WHERE p.indication IS NOT DISTINCT FROM s.indication AND p.diagnosis_code IS NOT DISTINCT FROM s.diagnosis_code
          AND p.age_years IS NOT DISTINCT FROM s.age_years AND p.specialty IS NOT DISTINCT FROM s.specialty
          AND p.severity IS NOT DISTINCT FROM s.severity AND p.refractory IS NOT DISTINCT FROM s.refractory
          AND p.plasma_exchange IS NOT DISTINCT FROM s.plasma_exchange
          AND p.with_methylprednisolone IS NOT DISTINCT FROM s.with_methylprednisolone);
