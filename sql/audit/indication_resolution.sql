-- Grain: one row per distinct (indication, diagnosis_code) pair in `orders`; the pairs of orders
-- loaded by batches since $since_batch (sql/audit/scope.sql) are resolved and replace their rows.
-- Resolves free text and code to one condition from guideline/vocabulary/ and reads the text's
-- qualifiers (severity, refractory, plasma exchange, methylprednisolone, uncertainty).
-- Steps: normalise -> correct one- or two-letter misspellings against the vocabulary's own words
-- -> whole-word term matches (highest specificity wins) -> longest ICD-10 prefix -> combine.
CREATE OR REPLACE TEMP TABLE resolved_in_scope AS
WITH
pairs AS (
    SELECT DISTINCT indication, diagnosis_code FROM orders WHERE batch_id >= $since_batch
),

texts AS (
    SELECT DISTINCT indication, normalise_text(indication) AS text_norm FROM pairs
),

vocabulary_words AS (
    SELECT DISTINCT unnest(string_split(normalise_text(term), ' ')) AS word
    FROM (SELECT term FROM ref_condition_terms
          UNION ALL SELECT term FROM ref_qualifier_terms
          UNION ALL SELECT term FROM ref_placeholders)
),

tokens AS (
    SELECT text_norm,
           unnest(string_split(text_norm, ' ')) AS word,
           unnest(range(1, len(string_split(text_norm, ' ')) + 1)) AS position
    FROM (SELECT DISTINCT text_norm FROM texts WHERE text_norm <> '')
),

-- A word not in the vocabulary, of 5+ letters, is corrected when exactly one vocabulary word is
-- nearest within 1 edit (5-7 letters) or 2 edits (8+ letters).
spelling_candidates AS (
    SELECT unknown.word, known.word AS corrected, damerau_levenshtein(unknown.word, known.word) AS distance
    FROM (SELECT DISTINCT word FROM tokens
          WHERE length(word) >= 5 AND NOT regexp_matches(word, '[0-9]')
            AND word NOT IN (SELECT word FROM vocabulary_words)) AS unknown
    JOIN vocabulary_words AS known
      ON length(known.word) >= 5 AND abs(length(known.word) - length(unknown.word)) <= 2
    WHERE damerau_levenshtein(unknown.word, known.word) <= CASE WHEN length(unknown.word) >= 8 THEN 2 ELSE 1 END
    QUALIFY rank() OVER (PARTITION BY unknown.word ORDER BY distance) = 1
),

spelling_corrections AS (
    SELECT word, any_value(corrected) AS corrected
    FROM spelling_candidates GROUP BY word HAVING count(*) = 1
),

corrected_texts AS (
    SELECT tokens.text_norm,
           string_agg(coalesce(fix.corrected, tokens.word), ' ' ORDER BY tokens.position) AS text_corrected,
           bool_or(fix.corrected IS NOT NULL) AS spelling_corrected
    FROM tokens LEFT JOIN spelling_corrections AS fix USING (word)
    GROUP BY tokens.text_norm
),

condition_terms AS (
    SELECT condition_id, normalise_text(term) AS term, specificity
    FROM ref_condition_terms JOIN ref_conditions USING (condition_id)
),

term_matches AS (
    SELECT texts.text_norm, terms.condition_id, terms.term, terms.specificity
    FROM corrected_texts AS texts
    JOIN condition_terms AS terms ON has_phrase(texts.text_corrected, terms.term)
),

text_conditions AS (
    SELECT text_norm,
           list(DISTINCT condition_id ORDER BY condition_id) AS conditions,
           string_agg(DISTINCT term, ', ' ORDER BY term) AS matched_terms
    FROM term_matches
    GROUP BY text_norm, specificity
    QUALIFY specificity = max(specificity) OVER (PARTITION BY text_norm)
),

qualifier_matches AS (
    SELECT texts.text_norm, q.qualifier, arg_min(q.value, q.precedence) AS value
    FROM corrected_texts AS texts
    JOIN ref_qualifier_terms AS q ON has_phrase(texts.text_corrected, normalise_text(q.term))
    GROUP BY texts.text_norm, q.qualifier
),

text_qualifiers AS (
    SELECT text_norm,
           max(value) FILTER (WHERE qualifier = 'severity') AS severity,
           max(value) FILTER (WHERE qualifier = 'refractory') AS refractory,
           max(value) FILTER (WHERE qualifier = 'plasma_exchange') AS plasma_exchange,
           max(value) FILTER (WHERE qualifier = 'with_methylprednisolone') AS with_methylprednisolone,
           bool_or(qualifier = 'uncertain' AND value = 'yes') AS uncertain
    FROM qualifier_matches GROUP BY text_norm
),

codes AS (
    SELECT DISTINCT diagnosis_code, normalise_code(diagnosis_code) AS code_norm
    FROM pairs WHERE nullif(trim(diagnosis_code), '') IS NOT NULL
),

code_matches AS (
    SELECT codes.diagnosis_code, ref.conditions, ref.default_condition, ref.code_severity, ref.needs_text
    FROM codes JOIN ref_codes AS ref ON starts_with(codes.code_norm, normalise_code(ref.prefix))
    QUALIFY row_number() OVER (PARTITION BY codes.diagnosis_code ORDER BY length(ref.prefix) DESC) = 1
),

combined AS (
    SELECT pairs.indication, pairs.diagnosis_code, texts.text_norm,
           corrected.text_corrected, coalesce(corrected.spelling_corrected, false) AS spelling_corrected,
           text_conditions.conditions AS text_conditions, text_conditions.matched_terms,
           code_matches.conditions AS code_conditions, code_matches.default_condition,
           code_matches.code_severity, coalesce(code_matches.needs_text, false) AS needs_text,
           -- the condition the code names on its own, when it names one
           CASE WHEN code_matches.needs_text THEN NULL
                WHEN len(code_matches.conditions) = 1 THEN code_matches.conditions[1]
                ELSE code_matches.default_condition END AS code_condition,
           nullif(trim(pairs.diagnosis_code), '') IS NOT NULL AS has_code,
           texts.text_norm = '' AS text_blank,
           texts.text_norm IN (SELECT normalise_text(term) FROM ref_placeholders) AS text_placeholder,
           list_intersect(text_conditions.conditions, code_matches.conditions) AS agreed,
           text_qualifiers.severity AS text_severity,
           text_qualifiers.refractory AS text_refractory,
           text_qualifiers.plasma_exchange AS text_plasma_exchange,
           text_qualifiers.with_methylprednisolone AS text_methylprednisolone,
           coalesce(text_qualifiers.uncertain, false)
               OR EXISTS (SELECT 1 FROM ref_uncertain_patterns AS p
                          WHERE regexp_matches(lower(coalesce(pairs.indication, '')), p.pattern)) AS uncertain
    FROM pairs
    JOIN texts ON texts.indication IS NOT DISTINCT FROM pairs.indication
    LEFT JOIN corrected_texts AS corrected ON corrected.text_norm = texts.text_norm
    LEFT JOIN text_conditions ON text_conditions.text_norm = texts.text_norm
    LEFT JOIN text_qualifiers ON text_qualifiers.text_norm = texts.text_norm
    LEFT JOIN code_matches ON code_matches.diagnosis_code IS NOT DISTINCT FROM pairs.diagnosis_code
),

resolved AS (
    SELECT *,
        CASE
            WHEN len(agreed) = 1 THEN 'text+code'
            WHEN len(text_conditions) = 1 THEN 'text'
            WHEN text_conditions IS NULL AND code_condition IS NOT NULL THEN 'code'
        END AS matched_by,
        CASE
            WHEN len(agreed) = 1 THEN agreed[1]
            WHEN len(text_conditions) = 1 THEN text_conditions[1]
            WHEN text_conditions IS NULL THEN code_condition
        END AS condition_id
    FROM combined
)

SELECT
    indication, diagnosis_code, text_norm, text_corrected, condition_id, matched_by, matched_terms,
    text_conditions, code_conditions, code_severity,
    text_severity, text_refractory, text_plasma_exchange, text_methylprednisolone,
    list_filter([
        CASE WHEN text_blank THEN 'indication_blank' END,
        CASE WHEN text_placeholder THEN 'indication_placeholder' END,
        CASE WHEN NOT text_blank AND NOT text_placeholder AND text_conditions IS NULL
             THEN 'indication_not_recognised' END,
        CASE WHEN len(text_conditions) > 1 AND len(agreed) IS DISTINCT FROM 1 THEN 'indication_ambiguous' END,
        CASE WHEN has_code AND code_conditions IS NULL THEN 'code_not_recognised' END,
        CASE WHEN text_conditions IS NULL AND code_conditions IS NOT NULL AND code_condition IS NULL
             THEN 'code_ambiguous' END,
        CASE WHEN len(text_conditions) >= 1 AND code_conditions IS NOT NULL AND len(agreed) = 0
             THEN 'text_code_mismatch' END,
        CASE WHEN spelling_corrected AND text_conditions IS NOT NULL THEN 'spelling_corrected' END,
        CASE WHEN uncertain AND condition_id IS NOT NULL THEN 'diagnosis_uncertain' END
    ], lambda flag: flag IS NOT NULL) AS flags
FROM resolved;

CREATE TABLE IF NOT EXISTS indication_resolution AS SELECT * FROM resolved_in_scope WITH NO DATA;

DELETE FROM indication_resolution AS r USING resolved_in_scope AS n
WHERE r.indication IS NOT DISTINCT FROM n.indication AND r.diagnosis_code IS NOT DISTINCT FROM n.diagnosis_code;

INSERT INTO indication_resolution SELECT * FROM resolved_in_scope;
