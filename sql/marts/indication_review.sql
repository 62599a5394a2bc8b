-- model: mart_indication_review
-- kind: full
-- grain: one row per normalised indication text and what happened to it, largest first
-- reads: patient_indication_review
--
-- The pharmacist's queue of texts to check or teach the vocabulary (README: "Teaching the
-- vocabulary"); the outcomes are explained in sql/marts/patient_indication_review.sql. The
-- per-patient rows are summed per text as typed first, so the text is normalised once per
-- distinct text, not per order.
WITH
as_typed AS (
    SELECT indication, outcome, sum(orders) AS orders, sum(grams) AS grams, flatten(list(sites)) AS sites,
           min(first_seen) AS first_seen, max(last_seen) AS last_seen,
           flatten(list(conditions)) AS conditions, flatten(list(flags)) AS flags
    FROM patient_indication_review
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
