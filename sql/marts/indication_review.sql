-- model: mart_indication_review
-- kind: full
-- grain: one row per normalised indication text and what happened to it, largest first
-- reads: order_audit
--
-- The pharmacist's queue of texts to check or teach the vocabulary (README: "Teaching the
-- vocabulary"). Outcomes, the first that applies:
--   ambiguous   an abbreviation with another sense had no support, or the text (or code) names more
--               than one condition and nothing settles it;
--   set_aside   a mention was negated, in the past or another person's (ConText);
--   unknown     no usable indication otherwise (blank, placeholder, not recognised, age not recorded);
--   corrected   a misspelt word was corrected into the vocabulary.
-- The orders are summed per text as typed first, so the text is normalised
-- once per distinct text, not per order.
WITH
reviewed AS (
    SELECT indication, site, order_date, dose_g, condition, flags,
        CASE
            WHEN list_has_any(flags, ['abbreviation_ambiguous', 'indication_ambiguous', 'code_ambiguous'])
                 AND (recommendation = 'unknown_indication' OR list_contains(flags, 'abbreviation_ambiguous'))
                THEN 'ambiguous'
            WHEN list_has_any(flags, ['mention_negated', 'mention_historical', 'mention_family']) THEN 'set_aside'
            WHEN recommendation = 'unknown_indication' THEN 'unknown'
            WHEN list_contains(flags, 'spelling_corrected') THEN 'corrected'
        END AS outcome
    FROM order_audit
    WHERE recommendation = 'unknown_indication'
       OR (len(flags) > 0  -- most orders have none: the list is looked into only for the others
           AND list_has_any(flags, ['abbreviation_ambiguous', 'mention_negated', 'mention_historical',
                                    'mention_family', 'spelling_corrected']))
),

as_typed AS (
    SELECT indication, outcome, count(*) AS orders, sum(dose_g) AS grams, list(DISTINCT site) AS sites,
           min(order_date) AS first_seen, max(order_date) AS last_seen,
           list(DISTINCT condition) FILTER (WHERE condition IS NOT NULL) AS conditions,
           flatten(list(DISTINCT flags)) AS flags
    FROM reviewed
    GROUP BY ALL
)

SELECT
    coalesce(nullif(normalise_text(indication), ''), '(blank)') AS indication_text,
    outcome,
    sum(orders)::BIGINT AS orders,
    sum(grams) AS grams,
    list_sort(list_distinct(flatten(list(sites)))) AS sites,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen,
    arg_max(indication, orders) AS example_as_typed,
    list_sort(list_distinct(flatten(list(conditions)))) AS conditions,
    list_sort(list_distinct(flatten(list(flags)))) AS flags
FROM as_typed
GROUP BY ALL
ORDER BY orders DESC, grams DESC, indication_text;
