-- Kind: derived, rebuilt in scope. Grain: indication_resolution, one row per distinct (indication,
-- diagnosis_code) of `orders`; indication_setting_resolution, one row per distinct (indication,
-- diagnosis_code, age_years, specialty) of the pairs whose reading waits on the order (below). The
-- pairs and settings of the orders loaded by batches since $since_batch (sql/audit/scope.sql) are
-- resolved and replace their rows. Inputs: orders; the vocabulary (ref_*, guideline/vocabulary/).
--
-- Each distinct text is read once, so the work follows the distinct texts, not the orders:
--   text_words     indication_words (sql/macros.sql), misspelt words corrected against the vocabulary;
--   text_mentions  condition and qualifier terms (their words in order, or all of them within one
--                  word more, in any order), context triggers, pseudo-triggers, terminators and the
--                  abbreviations' support words; ConText (Harkema et al., J Biomed Inform 2009;
--                  guideline/vocabulary/context.yaml) gives each condition and qualifier mention the
--                  categories of the triggers whose scope holds it: negated, historical, family, uncertain;
--   readings       the conditions that count (not negated, past or another person's; an ambiguous
--                  abbreviation only with support, guideline/vocabulary/abbreviations.yaml), the most
--                  specific first, then certain before uncertain; with the code's condition, the
--                  text's qualifiers, and the flags.
-- An abbreviation that neither the code nor the text supports waits on the order: its pair is read
-- once per setting (age, specialty) of its orders, in indication_setting_resolution. The pair's row
-- here is the reading without that support, and abbreviations_pending names the abbreviations.

CREATE OR REPLACE TEMP TABLE scoped_settings AS
SELECT DISTINCT indication, diagnosis_code, age_years, specialty FROM orders WHERE batch_id >= $since_batch;

-- Every phrase of the vocabulary, as words (punctuation kept only where it is the phrase: ";", "?").
CREATE OR REPLACE TEMP TABLE vocabulary_phrases AS
WITH
phrases AS (
    SELECT 'condition' AS kind, t.condition_id AS key, NULL AS value, c.specificity AS rank, t.term
    FROM ref_condition_terms AS t JOIN ref_conditions AS c USING (condition_id)
    UNION ALL
    SELECT 'qualifier', qualifier, value, precedence, term FROM ref_qualifier_terms
    UNION ALL
    SELECT kind, category, direction, max_scope, term FROM ref_context_phrases
    UNION ALL
    SELECT 'support', lower(a.term), NULL, NULL, s.word FROM ref_abbreviations AS a, unnest(a.support_words) AS s(word)
    UNION ALL
    SELECT 'other_sense', lower(a.term), NULL, NULL, s.word FROM ref_abbreviations AS a, unnest(a.other_sense_words) AS s(word)
)

SELECT row_number() OVER (ORDER BY kind, key, term) AS phrase_id, kind, key, value, rank, lower(term) AS term, words,
       len(words) AS n_words
FROM (SELECT *, CASE WHEN kind IN ('trigger', 'terminator', 'pseudo') THEN indication_words(term)
                     ELSE list_filter(indication_words(term), lambda w: w NOT IN (';', ',', '.', '?', '-')) END AS words
      FROM phrases)
WHERE len(words) > 0;

-- The words of each distinct text. A word the vocabulary does not know, of 4 letters or more, is
-- corrected when exactly one vocabulary word is nearest (of equally near ones, those of its own
-- length first): 8+ letters within 2 edits, 5-7 letters within 1, 4 letters by one transposition
-- ("cipd"), or by one substitution when typed in capitals as an acronym. Never into an ambiguous
-- abbreviation.
CREATE OR REPLACE TEMP TABLE text_words AS
WITH
texts AS (
    SELECT DISTINCT indication FROM scoped_settings
),

known_words AS (
    SELECT DISTINCT unnest(words) AS word FROM vocabulary_phrases
),

tokens AS (
    SELECT indication, unnest(tokens) AS token, unnest(range(1, len(tokens) + 1)) AS position
    FROM (SELECT indication, indication_tokens(indication) AS tokens FROM texts)
),

unknown_words AS (
    SELECT DISTINCT lower(token) AS word, token = upper(token) AS capitals
    FROM tokens
    WHERE length(token) >= 4 AND NOT regexp_matches(token, '[0-9]')
      AND lower(token) NOT IN (SELECT word FROM known_words)
),

spelling_candidates AS (
    SELECT u.word, u.capitals, k.word AS corrected, damerau_levenshtein(u.word, k.word) AS distance
    FROM unknown_words AS u
    JOIN known_words AS k
      ON length(k.word) >= 4
     AND abs(length(k.word) - length(u.word))
         <= CASE WHEN length(u.word) >= 8 THEN 2 WHEN length(u.word) >= 5 THEN 1 ELSE 0 END
    WHERE k.word NOT IN (SELECT lower(term) FROM ref_abbreviations)
      AND NOT regexp_matches(k.word, '[0-9]')
      AND CASE WHEN length(u.word) >= 8 THEN damerau_levenshtein(u.word, k.word) <= 2
               WHEN length(u.word) >= 5 THEN damerau_levenshtein(u.word, k.word) <= 1
               ELSE (damerau_levenshtein(u.word, k.word) = 1 AND levenshtein(u.word, k.word) = 2)
                    OR (u.capitals AND levenshtein(u.word, k.word) = 1) END
    -- the nearest, and of those a word of the same length ("moter": motor, not mother)
    QUALIFY rank() OVER (PARTITION BY u.word, u.capitals
                         ORDER BY distance, abs(length(k.word) - length(u.word))) = 1
),

spelling_corrections AS (
    SELECT word, capitals, any_value(corrected) AS corrected
    FROM spelling_candidates GROUP BY ALL HAVING count(*) = 1
),

corrected AS (
    SELECT t.indication, t.position, coalesce(fix.corrected, lower(t.token)) AS word, fix.corrected IS NOT NULL AS fixed
    FROM tokens AS t
    LEFT JOIN spelling_corrections AS fix ON fix.word = lower(t.token) AND fix.capitals = (t.token = upper(t.token))
)

SELECT x.indication, normalise_text(x.indication) AS text_norm,
       coalesce(w.words, []) AS words, coalesce(w.fixed_positions, []) AS fixed_positions
FROM texts AS x
LEFT JOIN (SELECT indication, list(word ORDER BY position) AS words,
                  coalesce(list(position ORDER BY position) FILTER (WHERE fixed), []) AS fixed_positions
           FROM corrected GROUP BY indication) AS w USING (indication);

-- Every phrase found in each text, and the context of each condition and qualifier mention.
CREATE OR REPLACE TEMP TABLE text_mentions AS
WITH
words AS (
    SELECT indication, unnest(words) AS word, unnest(range(1, len(words) + 1)) AS position FROM text_words
),

-- barriers between a condition term's words: single-word triggers and terminators, but not a comma
-- or a dash ("polyneuropathy, chronic inflammatory demyelinating" as code lists write it,
-- "Lambert - Eaton", "neuropathy - IgM paraprotein")
barrier_words AS (
    SELECT list(words[1]) AS words FROM vocabulary_phrases
    WHERE kind IN ('trigger', 'terminator') AND n_words = 1 AND words[1] NOT IN (',', '-')
),

condition_phrase_words AS (
    SELECT phrase_id, unnest(words) AS word FROM vocabulary_phrases WHERE kind = 'condition'
),

-- A condition term: its words in order, or all of them within one word more than it has, in any
-- order, with no barrier among them: `span` words from each word of the term.
condition_matches AS (
    SELECT DISTINCT indication, phrase_id, first, first + span - 1 AS last
    FROM (
        SELECT w.indication, p.phrase_id, w.position AS first, p.words AS term_words, p.n_words + extra AS span,
               t.words[w.position : w.position + p.n_words + extra - 1] AS span_words, b.words AS barriers
        FROM words AS w
        JOIN condition_phrase_words USING (word)
        JOIN vocabulary_phrases AS p USING (phrase_id)
        JOIN text_words AS t USING (indication)
        CROSS JOIN barrier_words AS b
        CROSS JOIN (SELECT unnest([0, 1]) AS extra)
        WHERE extra = 0 OR p.n_words > 1
    )
    WHERE len(span_words) = span AND list_contains(term_words, span_words[-1]) AND list_has_all(span_words, term_words)
      AND (span_words = term_words OR NOT list_has_any(span_words, barriers))
),

-- every other phrase: its words in order
other_matches AS (
    SELECT w.indication, p.phrase_id, w.position AS first, w.position + p.n_words - 1 AS last
    FROM words AS w
    JOIN vocabulary_phrases AS p ON p.kind <> 'condition' AND p.words[1] = w.word
    JOIN text_words AS t USING (indication)
    WHERE t.words[w.position : w.position + p.n_words - 1] = p.words
),

matches AS (
    SELECT m.indication, m.first, min(m.last) AS last, p.kind, p.key, p.value, p.rank, p.term
    FROM (SELECT * FROM condition_matches UNION ALL SELECT * FROM other_matches) AS m
    JOIN vocabulary_phrases AS p USING (phrase_id)
    GROUP BY ALL
),

-- A term inside a longer term of its kind does not count on its own ("dm" in "dm amyotrophy"), nor
-- a trigger inside a longer trigger ("no" in "no evidence of"), nor a trigger word that is part of a
-- condition or qualifier term or of a pseudo-trigger ("not responding", "no change").
kept AS (
    SELECT m.* FROM matches AS m
    WHERE NOT EXISTS (
        SELECT 1 FROM matches AS o
        WHERE o.indication = m.indication AND o.kind = m.kind AND m.kind IN ('condition', 'qualifier', 'trigger')
          AND o.first <= m.first AND o.last >= m.last AND o.last - o.first > m.last - m.first)
      AND NOT (m.kind = 'trigger' AND EXISTS (
        SELECT 1 FROM matches AS o
        WHERE o.indication = m.indication AND o.kind IN ('condition', 'qualifier', 'pseudo')
          AND o.first <= m.last AND o.last >= m.first))
),

-- ConText: a trigger's scope runs max_scope words forward and/or backward, and stops at a
-- terminator or at a trigger of another category.
scopes AS (
    SELECT k.indication, k.key AS category,
        CASE WHEN k.value IN ('forward', 'bidirectional') THEN k.last + 1 END AS forward_from,
        least(k.last + k.rank, coalesce(min(b.first) FILTER (WHERE b.first > k.last) - 1, k.last + k.rank)) AS forward_to,
        greatest(k.first - k.rank, coalesce(max(b.last) FILTER (WHERE b.last < k.first) + 1, k.first - k.rank)) AS backward_from,
        CASE WHEN k.value IN ('backward', 'bidirectional') THEN k.first - 1 END AS backward_to
    FROM kept AS k
    LEFT JOIN kept AS b
      ON b.indication = k.indication AND (b.kind = 'terminator' OR (b.kind = 'trigger' AND b.key <> k.key))
    WHERE k.kind = 'trigger'
    GROUP BY k.indication, k.key, k.value, k.rank, k.first, k.last
)

SELECT m.indication, m.kind, m.key, m.value, m.rank, m.term, m.first, m.last,
       coalesce(list(DISTINCT s.category ORDER BY s.category) FILTER (WHERE s.category IS NOT NULL), [])
           AS categories
FROM kept AS m
LEFT JOIN scopes AS s
  ON s.indication = m.indication AND m.kind IN ('condition', 'qualifier')
 AND (m.first BETWEEN s.forward_from AND s.forward_to OR m.last BETWEEN s.backward_from AND s.backward_to)
GROUP BY ALL;

-- The readings: one per pair, and one per setting of the pairs whose abbreviation waits on the order.
CREATE OR REPLACE TEMP TABLE readings_in_scope AS
WITH
pairs AS (
    SELECT DISTINCT indication, diagnosis_code FROM scoped_settings
),

codes AS (
    SELECT DISTINCT diagnosis_code, normalise_code(diagnosis_code) AS code_norm
    FROM pairs WHERE nullif(trim(diagnosis_code), '') IS NOT NULL
),

code_matches AS (
    SELECT codes.diagnosis_code, ref.prefix, ref.conditions, ref.default_condition, ref.code_severity,
           ref.code_exacerbation, ref.needs_text
    FROM codes JOIN ref_codes AS ref ON starts_with(codes.code_norm, normalise_code(ref.prefix))
    QUALIFY row_number() OVER (PARTITION BY codes.diagnosis_code ORDER BY length(ref.prefix) DESC) = 1
),

mentions AS (
    SELECT m.*,
        list_has_any(m.categories, ['negated', 'historical', 'family']) AS set_aside,
        list_contains(m.categories, 'uncertain') AS uncertain,
        a.term IS NOT NULL AS is_abbreviation
    FROM text_mentions AS m
    LEFT JOIN ref_abbreviations AS a ON m.kind = 'condition' AND lower(a.term) = m.term AND a.condition_id = m.key
    WHERE m.kind IN ('condition', 'qualifier')
),

-- An ambiguous abbreviation, from its pair alone: supported by the code (a code of its condition),
-- read in its other sense (one of its other-sense words in the text), supported by the text
-- (another counted term of its condition, or one of its support words), or waiting on the order.
abbreviation_support AS (
    SELECT p.indication, p.diagnosis_code, m.term, m.key AS condition_id, m.first,
        CASE WHEN list_contains(c.conditions, m.key) THEN 'code'
             WHEN EXISTS (SELECT 1 FROM text_mentions AS o
                          WHERE o.indication = m.indication AND o.kind = 'other_sense' AND o.key = m.term) THEN 'other_sense'
             WHEN EXISTS (SELECT 1 FROM mentions AS o
                          WHERE o.indication = m.indication AND o.kind = 'condition' AND o.key = m.key
                            AND NOT o.is_abbreviation AND NOT o.set_aside)
               OR EXISTS (SELECT 1 FROM text_mentions AS o
                          WHERE o.indication = m.indication AND o.kind = 'support' AND o.key = m.term) THEN 'text'
             ELSE 'order' END AS support
    FROM pairs AS p
    JOIN mentions AS m USING (indication)
    LEFT JOIN code_matches AS c USING (diagnosis_code)
    WHERE m.is_abbreviation AND NOT m.set_aside
),

readings AS (
    SELECT row_number() OVER () AS reading_id, *
    FROM (SELECT indication, diagnosis_code, NULL::INTEGER AS age_years, NULL::VARCHAR AS specialty, false AS per_setting
          FROM pairs
          UNION ALL
          SELECT s.indication, s.diagnosis_code, s.age_years, s.specialty, true
          FROM scoped_settings AS s
          SEMI JOIN (SELECT * FROM abbreviation_support WHERE support = 'order') AS a
            ON a.indication = s.indication AND a.diagnosis_code IS NOT DISTINCT FROM s.diagnosis_code)
),

pending AS (
    SELECT indication, diagnosis_code, list(DISTINCT term ORDER BY term) AS terms
    FROM abbreviation_support WHERE support = 'order' GROUP BY ALL
),

-- Each abbreviation in each reading: what counts it (code, text, specialty, age), or what does not
-- (other_sense, no_support). The pair's own reading has no order to ask.
abbreviation_readings AS (
    SELECT r.reading_id, s.first, s.term, s.condition_id, c.label,
        array_to_string(a.other_senses, ' or ') AS other_senses,
        CASE WHEN s.support IN ('code', 'text', 'other_sense') THEN s.support
             WHEN NOT r.per_setting THEN 'no_support'
             WHEN specialty_matches(r.specialty, a.other_sense_specialties) THEN 'other_sense'
             WHEN specialty_matches(r.specialty, a.support_specialties) THEN 'specialty'
             WHEN (a.support_age_min IS NOT NULL OR a.support_age_max IS NOT NULL)
                  AND r.age_years >= coalesce(a.support_age_min, 0) AND r.age_years < coalesce(a.support_age_max, 999)
                 THEN 'age'
             ELSE 'no_support' END AS reading
    FROM readings AS r
    JOIN abbreviation_support AS s
      ON s.indication = r.indication AND s.diagnosis_code IS NOT DISTINCT FROM r.diagnosis_code
    JOIN ref_abbreviations AS a ON lower(a.term) = s.term AND a.condition_id = s.condition_id
    JOIN ref_conditions AS c ON c.condition_id = s.condition_id
),

counted AS (
    SELECT r.reading_id, m.key AS condition_id, m.rank AS specificity, m.uncertain, m.term
    FROM readings AS r
    JOIN mentions AS m USING (indication)
    LEFT JOIN abbreviation_readings AS a ON a.reading_id = r.reading_id AND a.first = m.first
    WHERE m.kind = 'condition' AND NOT m.set_aside
      AND (NOT m.is_abbreviation OR a.reading IN ('code', 'text', 'specialty', 'age'))
),

-- the most specific conditions counted, the certain before the uncertain
text_conditions AS (
    SELECT reading_id, list(DISTINCT condition_id ORDER BY condition_id) AS conditions
    FROM counted
    GROUP BY reading_id, specificity, uncertain
    QUALIFY row_number() OVER (PARTITION BY reading_id ORDER BY specificity DESC, uncertain) = 1
),

reading_terms AS (
    SELECT reading_id, string_agg(DISTINCT term, ', ' ORDER BY term) AS matched_terms,
           bool_or(uncertain) AS uncertain
    FROM counted GROUP BY reading_id
),

-- a qualifier's value: a negated mention reads "no" (severity, and a term whose value is already
-- "no" such as "stable": nothing), a family or uncertain one nothing, a past one its value
-- (severity and exacerbation, which describe this episode: nothing); the first value listed wins,
-- a negation first
qualifier_values AS (
    SELECT indication, key AS qualifier, arg_min(value, precedence) AS value
    FROM (SELECT indication, key,
                 CASE WHEN list_contains(categories, 'negated') THEN CASE WHEN key <> 'severity' AND value <> 'no' THEN 'no' END
                      WHEN list_has_any(categories, ['family', 'uncertain']) THEN NULL
                      WHEN list_contains(categories, 'historical') AND key IN ('severity', 'exacerbation') THEN NULL
                      ELSE value END AS value,
                 CASE WHEN list_contains(categories, 'negated') THEN -1 ELSE rank END AS precedence
          FROM mentions WHERE kind = 'qualifier')
    WHERE value IS NOT NULL
    GROUP BY ALL
),

text_facts AS (
    SELECT t.indication, t.text_norm, array_to_string(t.words, ' ') AS text_corrected,
        t.text_norm = '' AS text_blank,
        t.text_norm IN (SELECT normalise_text(term) FROM ref_placeholders) AS text_placeholder,
        (SELECT max(value) FILTER (WHERE qualifier = 'severity') FROM qualifier_values AS q WHERE q.indication = t.indication) AS text_severity,
        (SELECT max(value) FILTER (WHERE qualifier = 'refractory') FROM qualifier_values AS q WHERE q.indication = t.indication) AS text_refractory,
        (SELECT max(value) FILTER (WHERE qualifier = 'plasma_exchange') FROM qualifier_values AS q WHERE q.indication = t.indication) AS text_plasma_exchange,
        (SELECT max(value) FILTER (WHERE qualifier = 'with_methylprednisolone') FROM qualifier_values AS q WHERE q.indication = t.indication) AS text_methylprednisolone,
        (SELECT max(value) FILTER (WHERE qualifier = 'exacerbation') FROM qualifier_values AS q WHERE q.indication = t.indication) AS text_exacerbation,
        EXISTS (SELECT 1 FROM mentions AS m WHERE m.indication = t.indication AND m.kind = 'condition') AS names_condition,
        coalesce((SELECT list(DISTINCT key ORDER BY key) FROM mentions AS m
                  WHERE m.indication = t.indication AND m.kind = 'condition' AND m.set_aside), []) AS set_aside_conditions,
        (SELECT list(DISTINCT c ORDER BY c) FROM mentions AS m, unnest(m.categories) AS u(c)
         WHERE m.indication = t.indication AND c IN ('negated', 'historical', 'family')) AS set_aside_by,
        (SELECT string_agg(m.term || ' (' || array_to_string(list_filter(m.categories, lambda c: c <> 'uncertain'), ', ') || ')',
                           '; ' ORDER BY m.first)
         FROM mentions AS m WHERE m.indication = t.indication AND m.set_aside) AS set_aside_note,
        EXISTS (SELECT 1 FROM text_mentions AS m, unnest(t.fixed_positions) AS f(position)
                WHERE m.indication = t.indication AND f.position BETWEEN m.first AND m.last) AS spelling_corrected
    FROM text_words AS t
),

-- what was not read, said in the rationale (an abbreviation read as its condition is not: every
-- GBS order would say so, and order_audit keeps a rationale per order)
abbreviation_notes AS (
    SELECT reading_id,
        bool_or(reading IN ('other_sense', 'no_support')) AS not_read,
        string_agg(CASE reading
            WHEN 'other_sense' THEN '"' || term || '" read as ' || other_senses || ', not ' || label
            WHEN 'no_support' THEN '"' || term || '" not graded: it may mean ' || label || ' or ' || other_senses
                                   || ', and nothing on the order supports ' || label END,
                   '; ' ORDER BY first) AS note
    FROM abbreviation_readings GROUP BY reading_id
),

combined AS (
    SELECT r.*, f.text_norm, f.text_corrected, f.text_blank, f.text_placeholder, f.text_severity, f.text_refractory,
        f.text_plasma_exchange, f.text_methylprednisolone, f.text_exacerbation, f.names_condition, f.set_aside_by, f.spelling_corrected,
        f.set_aside_conditions,
        tc.conditions AS text_conditions, rt.matched_terms, coalesce(rt.uncertain, false) AS uncertain,
        c.prefix AS code_prefix, c.conditions AS code_conditions, c.code_severity, c.code_exacerbation,
        coalesce(c.needs_text, false) AS needs_text,
        -- the condition the code names on its own, unless the text sets that condition aside
        list_has_any(f.set_aside_conditions, c.conditions) AS code_vetoed,
        CASE WHEN c.needs_text OR list_has_any(f.set_aside_conditions, c.conditions) THEN NULL
             WHEN len(c.conditions) = 1 THEN c.conditions[1]
             ELSE c.default_condition END AS code_condition,
        coalesce(pd.terms, []) AS abbreviations_pending,
        nullif(trim(r.diagnosis_code), '') IS NOT NULL AS has_code,
        list_intersect(tc.conditions, c.conditions) AS agreed,
        coalesce(an.not_read, false) AS abbreviation_not_read,
        concat_ws('; ', CASE WHEN f.set_aside_note IS NOT NULL THEN 'set aside by context: ' || f.set_aside_note END,
                  an.note) AS context_note
    FROM readings AS r
    JOIN text_facts AS f ON f.indication IS NOT DISTINCT FROM r.indication
    LEFT JOIN pending AS pd
      ON NOT r.per_setting AND pd.indication = r.indication AND pd.diagnosis_code IS NOT DISTINCT FROM r.diagnosis_code
    LEFT JOIN text_conditions AS tc USING (reading_id)
    LEFT JOIN reading_terms AS rt USING (reading_id)
    LEFT JOIN abbreviation_notes AS an USING (reading_id)
    LEFT JOIN code_matches AS c ON c.diagnosis_code IS NOT DISTINCT FROM r.diagnosis_code
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
    indication, diagnosis_code, age_years, specialty, per_setting, text_norm, text_corrected, condition_id,
    matched_by, matched_terms, text_conditions, set_aside_conditions, code_conditions, code_severity,
    code_exacerbation, text_severity, text_refractory, text_plasma_exchange, text_methylprednisolone,
    text_exacerbation,
    list_filter([
        CASE WHEN text_blank THEN 'indication_blank' END,
        CASE WHEN text_placeholder THEN 'indication_placeholder' END,
        CASE WHEN NOT text_blank AND NOT text_placeholder AND NOT names_condition THEN 'indication_not_recognised' END,
        CASE WHEN len(text_conditions) > 1 AND len(agreed) IS DISTINCT FROM 1 THEN 'indication_ambiguous' END,
        CASE WHEN has_code AND code_conditions IS NULL THEN 'code_not_recognised' END,
        CASE WHEN text_conditions IS NULL AND code_conditions IS NOT NULL AND code_condition IS NULL
                  AND NOT code_vetoed THEN 'code_ambiguous' END,
        CASE WHEN matched_by = 'code' AND len(code_conditions) > 1 THEN 'code_default_condition' END,
        CASE WHEN (len(text_conditions) >= 1 AND code_conditions IS NOT NULL AND len(agreed) = 0)
                  OR (text_conditions IS NULL AND code_vetoed) THEN 'text_code_mismatch' END,
        CASE WHEN spelling_corrected THEN 'spelling_corrected' END,
        CASE WHEN uncertain AND condition_id IS NOT NULL THEN 'diagnosis_uncertain' END,
        CASE WHEN list_contains(set_aside_by, 'negated') THEN 'mention_negated' END,
        CASE WHEN list_contains(set_aside_by, 'historical') THEN 'mention_historical' END,
        CASE WHEN list_contains(set_aside_by, 'family') THEN 'mention_family' END,
        CASE WHEN abbreviation_not_read THEN 'abbreviation_ambiguous' END
    ], lambda flag: flag IS NOT NULL) AS flags,
    nullif(context_note, '') AS context_note,
    CASE WHEN matched_by = 'code' AND len(code_conditions) > 1
         THEN (SELECT note FROM ref_codes WHERE prefix = code_prefix) END AS code_note,
    abbreviations_pending
FROM resolved;

CREATE TABLE IF NOT EXISTS indication_resolution AS
SELECT * EXCLUDE (age_years, specialty, per_setting) FROM readings_in_scope WITH NO DATA;

DELETE FROM indication_resolution AS r USING (SELECT DISTINCT indication, diagnosis_code FROM scoped_settings) AS n
WHERE r.indication IS NOT DISTINCT FROM n.indication AND r.diagnosis_code IS NOT DISTINCT FROM n.diagnosis_code;

INSERT INTO indication_resolution BY NAME
SELECT * EXCLUDE (age_years, specialty, per_setting) FROM readings_in_scope WHERE NOT per_setting;

CREATE TABLE IF NOT EXISTS indication_setting_resolution AS
SELECT * EXCLUDE (per_setting, abbreviations_pending) FROM readings_in_scope WITH NO DATA;

DELETE FROM indication_setting_resolution AS r USING scoped_settings AS n
WHERE r.indication IS NOT DISTINCT FROM n.indication AND r.diagnosis_code IS NOT DISTINCT FROM n.diagnosis_code
  AND r.age_years IS NOT DISTINCT FROM n.age_years AND r.specialty IS NOT DISTINCT FROM n.specialty;

INSERT INTO indication_setting_resolution BY NAME
SELECT * EXCLUDE (per_setting, abbreviations_pending) FROM readings_in_scope WHERE per_setting;
