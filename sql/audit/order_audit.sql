-- Grain: one row per order in `orders`, classified with rule set $ruleset_id.
-- The order's condition comes from indication_resolution; its population (age, severity,
-- refractory, plasma exchange, methylprednisolone) from the structured columns, falling back to
-- the code and then the text. Rules of the condition are tried in rule_order: the first whose
-- population matches gives the verdict. Flag rules add flags. See guideline/rulesets/.
CREATE OR REPLACE TABLE order_audit AS
WITH
ruleset AS (
    SELECT * FROM guideline_rulesets WHERE ruleset_id = $ruleset_id
),

severity_terms AS (
    SELECT normalise_text(term) AS term, arg_min(value, precedence) AS value
    FROM ref_qualifier_terms WHERE qualifier = 'severity' GROUP BY 1
),

order_facts AS (
    SELECT
        o.order_id, o.site, o.patient_key, o.order_date, o.age_years, o.dose_g,
        r.condition_id, r.matched_by, r.matched_terms, r.flags AS indication_flags,
        c.label AS condition_label, c.scope,
        coalesce(column_severity.value, r.code_severity, r.text_severity, 'unknown') AS severity,
        nullif(trim(o.severity), '') IS NOT NULL AND column_severity.value IS NULL AS severity_unreadable,
        CASE WHEN o.refractory IS NULL THEN coalesce(r.text_refractory, 'unknown')
             ELSE yes_no_unknown(o.refractory) END AS refractory,
        CASE WHEN o.plasma_exchange IS NULL THEN coalesce(r.text_plasma_exchange, 'unknown')
             ELSE yes_no_unknown(o.plasma_exchange) END AS plasma_exchange,
        CASE WHEN o.with_methylprednisolone IS NULL THEN coalesce(r.text_methylprednisolone, 'unknown')
             ELSE yes_no_unknown(o.with_methylprednisolone) END AS with_methylprednisolone
    FROM orders AS o
    JOIN indication_resolution AS r
      ON r.indication IS NOT DISTINCT FROM o.indication
     AND r.diagnosis_code IS NOT DISTINCT FROM o.diagnosis_code
    LEFT JOIN ref_conditions AS c USING (condition_id)
    LEFT JOIN severity_terms AS column_severity ON column_severity.term = normalise_text(o.severity)
),

-- Every rule of the rule set whose condition and population match the order: verdict rules
-- (the first by rule_order wins) and flag rules (all apply).
applicable_rules AS (
    SELECT f.order_id, f.site, rule.*
    FROM order_facts AS f
    JOIN (SELECT 'verdict' AS kind, * FROM guideline_rules
          UNION ALL BY NAME
          SELECT 'flag' AS kind, * FROM guideline_flag_rules) AS rule
      ON rule.ruleset_id = $ruleset_id AND rule.condition_id = f.condition_id
    WHERE (rule.age_min IS NULL OR f.age_years >= rule.age_min)
      AND (rule.age_max IS NULL OR f.age_years < rule.age_max)
      AND (rule.severity IS NULL OR list_contains(rule.severity, f.severity))
      AND (rule.refractory IS NULL OR list_contains(rule.refractory, f.refractory))
      AND (rule.plasma_exchange IS NULL OR list_contains(rule.plasma_exchange, f.plasma_exchange))
      AND (rule.with_methylprednisolone IS NULL
           OR list_contains(rule.with_methylprednisolone, f.with_methylprednisolone))
),

rule_matches AS (
    SELECT * FROM applicable_rules WHERE kind = 'verdict'
    QUALIFY row_number() OVER (PARTITION BY site, order_id ORDER BY rule_order) = 1
),

flag_matches AS (
    SELECT order_id, site,
           list(flag ORDER BY flag) AS flags,
           string_agg(statement || ' [' || section || ']', ' ' ORDER BY flag) AS notes
    FROM applicable_rules WHERE kind = 'flag'
    GROUP BY order_id, site
),

verdicts AS (
    SELECT
        f.*,
        m.rule_id, m.level AS evidence_level, m.statement, m.section,
        CASE
            WHEN m.rule_id IS NOT NULL THEN m.recommendation
            WHEN f.condition_id IS NOT NULL THEN 'outside_guideline'
            ELSE 'unknown_indication'
        END AS recommendation,
        coalesce(m.flags, []) AS rule_flags,
        fm.flags AS flag_rule_flags, fm.notes AS flag_notes,
        -- the population facts the matched rule looked at, to show why it matched
        concat_ws('; ',
            'age ' || f.age_years,
            CASE WHEN m.severity IS NOT NULL THEN 'severity ' || f.severity END,
            CASE WHEN m.refractory IS NOT NULL THEN 'refractory ' || f.refractory END,
            CASE WHEN m.plasma_exchange IS NOT NULL OR f.plasma_exchange = 'yes'
                 THEN 'plasma exchange ' || f.plasma_exchange END,
            CASE WHEN m.with_methylprednisolone IS NOT NULL OR f.with_methylprednisolone = 'yes'
                 THEN 'IV methylprednisolone ' || f.with_methylprednisolone END) AS population_note
    FROM order_facts AS f
    LEFT JOIN rule_matches AS m USING (site, order_id)
    LEFT JOIN flag_matches AS fm USING (site, order_id)
)

SELECT
    v.order_id,
    v.site,
    v.patient_key,
    v.order_date,
    v.condition_id AS condition,
    v.evidence_level,
    v.recommendation,
    list_sort(list_distinct(list_concat(
        v.indication_flags, v.rule_flags, coalesce(v.flag_rule_flags, []),
        CASE WHEN v.severity_unreadable THEN ['severity_not_recognised'] ELSE [] END))) AS flags,
    rec.label
    || coalesce(' (Level ' || v.evidence_level || ')', '') || '. '
    || CASE
        WHEN v.condition_id IS NULL THEN
            'No usable indication: '
            || CASE WHEN list_contains(v.indication_flags, 'indication_ambiguous')
                        THEN 'the text names more than one condition and no diagnosis code settles it.'
                    WHEN list_contains(v.indication_flags, 'code_ambiguous')
                        THEN 'the diagnosis code covers more than one condition and the text does not say which.'
                    WHEN list_contains(v.indication_flags, 'indication_not_recognised')
                        THEN 'the indication text names no condition in the vocabulary.'
                    WHEN list_contains(v.indication_flags, 'indication_placeholder')
                        THEN 'the indication is a placeholder, not a diagnosis.'
                    ELSE 'the indication is blank.' END
            || CASE WHEN list_contains(v.indication_flags, 'code_not_recognised')
                        THEN ' The diagnosis code is not one the vocabulary knows.' ELSE '' END
        WHEN v.rule_id IS NULL THEN
            v.condition_label || ' (from ' || v.matched_by || '): ' || rs.short_name
            || ' does not grade IVIg for this condition.'
        ELSE
            v.condition_label || ' (from ' || v.matched_by || '; ' || v.population_note || '): '
            || v.statement || ' [' || rs.short_name || ', ' || v.section || ']'
    END
    || CASE WHEN v.flag_notes IS NOT NULL THEN ' Also: ' || v.flag_notes ELSE '' END AS rationale,
    rs.ruleset_id AS guideline_id,
    rs.version AS guideline_version,
    v.rule_id,
    v.section AS guideline_section,
    v.dose_g
FROM verdicts AS v
CROSS JOIN ruleset AS rs
JOIN ref_recommendations AS rec USING (recommendation);
