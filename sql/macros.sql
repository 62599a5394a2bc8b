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

-- ICD-10 codes compare without dots, spaces or case: "g61.81" -> "G6181".
CREATE OR REPLACE TEMP MACRO normalise_code(c) AS
    upper(regexp_replace(coalesce(c, ''), '[^A-Za-z0-9]', '', 'g'));

-- Whole-word containment on normalised text.
CREATE OR REPLACE TEMP MACRO has_phrase(text_norm, phrase) AS
    contains(' ' || text_norm || ' ', ' ' || phrase || ' ');

-- Yes/no spellings in extracts; anything else is NULL (and reported by the staging checks).
CREATE OR REPLACE TEMP MACRO parse_yes_no(v) AS
    CASE lower(trim(v))
        WHEN 'y' THEN true WHEN 'yes' THEN true WHEN 'true' THEN true WHEN 't' THEN true WHEN '1' THEN true
        WHEN 'n' THEN false WHEN 'no' THEN false WHEN 'false' THEN false WHEN 'f' THEN false WHEN '0' THEN false
    END;

CREATE OR REPLACE TEMP MACRO yes_no_unknown(b) AS
    CASE WHEN b THEN 'yes' WHEN NOT b THEN 'no' ELSE 'unknown' END;
