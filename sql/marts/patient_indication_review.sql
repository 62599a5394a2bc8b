-- model: patient_indication_review
-- kind: incremental by patient
-- grain: one row per patient, indication as typed and what happened to it (the outcomes of
--   mart_indication_review): their orders, grams, sites, first and last order dates, conditions
--   and flags
-- reads: order_audit, patients_in_scope
--
-- What mart_indication_review sums. The patients in scope (sql/audit/scope.sql) get their rows
-- rebuilt, so a run reads only their orders, not every order (0.5 s at 10M orders). Outcomes, the
-- first that applies:
--   ambiguous   an abbreviation with another sense had no support, or the text (or code) names more
--               than one condition and nothing settles it;
--   set_aside   a mention was negated, in the past or another person's (ConText);
--   unknown     no usable indication otherwise (blank, placeholder, not recognised, age not recorded);
--   corrected   a misspelt word was corrected into the vocabulary.
WITH
audited AS (
    SELECT patient_seq, indication, site, order_date, dose_g, condition, recommendation, flags
    FROM order_audit SEMI JOIN patients_in_scope USING (patient_seq)
),

reviewed AS (
    SELECT patient_seq, indication, site, order_date, dose_g, condition, flags,
        CASE
            WHEN list_has_any(flags, ['abbreviation_ambiguous', 'indication_ambiguous', 'code_ambiguous'])
                 AND (recommendation = 'unknown_indication' OR list_contains(flags, 'abbreviation_ambiguous'))
                THEN 'ambiguous'
            WHEN list_has_any(flags, ['mention_negated', 'mention_historical', 'mention_family']) THEN 'set_aside'
            WHEN recommendation = 'unknown_indication' THEN 'unknown'
            WHEN list_contains(flags, 'spelling_corrected') THEN 'corrected'
        END AS outcome
    FROM audited
    WHERE recommendation = 'unknown_indication'
       OR (len(flags) > 0  -- most orders have none: the list is looked into only for the others
           AND list_has_any(flags, ['abbreviation_ambiguous', 'mention_negated', 'mention_historical',
                                    'mention_family', 'spelling_corrected']))
)

SELECT patient_seq, indication, outcome, count(*) AS orders, sum(dose_g) AS grams, list(DISTINCT site) AS sites,
       min(order_date) AS first_seen, max(order_date) AS last_seen,
       list(DISTINCT condition) FILTER (WHERE condition IS NOT NULL) AS conditions,
       flatten(list(DISTINCT flags)) AS flags
FROM reviewed
GROUP BY ALL
