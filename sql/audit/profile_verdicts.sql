-- Kind: incremental by profile and rule set. Grain: one row per order profile (audit_profiles) and
-- rule set audited. Inputs: audit_profiles, ruleset_audit_plan (temp: which rule sets to classify
-- and from which profile on, pipelines/classify.py), indication_resolution and
-- indication_setting_resolution, guideline_rulesets, guideline_rules, guideline_flag_rules, ref_*.
-- New profiles are classified under every rule set; a rule set that is new or changed classifies
-- every profile again; a rule set no longer audited loses its rows. Orders reach these verdicts
-- through their profile (order_verdicts, order_audit), so no per-order row is written.
-- The profile's condition comes from indication_resolution (from indication_setting_resolution
-- when an abbreviation's reading waits on the order's age or specialty); its population (age,
-- severity, refractory, plasma exchange, methylprednisolone) from the structured columns, falling
-- back to the code and then the text; MG exacerbation, which no column records, from the code and
-- the text. Rules of the condition are tried in rule_order: the first
-- whose population matches gives the verdict. An age that is not recorded is never assumed: when
-- the first rule that could apply depends on age, the order is not graded (flag age_not_recorded).
-- Flag rules add flags. See guideline/rulesets/.
-- Rationale: the guideline's own words in double quotes with [rule set, section]; the audit's own
-- wording after "Audit note:".
CREATE TABLE IF NOT EXISTS profile_verdicts (
    profile_id         BIGINT NOT NULL,
    ruleset_id         VARCHAR NOT NULL,
    condition          VARCHAR,
    evidence_level     VARCHAR,
    recommendation     VARCHAR NOT NULL,
    outside_reason     VARCHAR,
    flags              VARCHAR[] NOT NULL,
    rationale          VARCHAR NOT NULL,
    rule_id            VARCHAR,
    guideline_section  VARCHAR,
    ruleset_version    VARCHAR NOT NULL,
    ruleset_sha256     VARCHAR NOT NULL,
    vocabulary_version VARCHAR NOT NULL
);

DELETE FROM profile_verdicts AS v
WHERE NOT EXISTS (SELECT 1 FROM ruleset_audit_plan AS plan
                  WHERE plan.ruleset_id = v.ruleset_id AND v.profile_id < plan.from_profile_id);

INSERT INTO profile_verdicts BY NAME
WITH
plan AS (
    SELECT ruleset_id, from_profile_id FROM ruleset_audit_plan
),

rulesets AS (
    SELECT r.ruleset_id, r.short_name, r.version, r.content_sha256
    FROM guideline_rulesets AS r SEMI JOIN plan USING (ruleset_id)
),

severity_terms AS (
    SELECT normalise_text(term) AS term, arg_min(value, precedence) AS value
    FROM ref_qualifier_terms WHERE qualifier = 'severity' GROUP BY 1
),

profiles AS (
    SELECT * FROM audit_profiles
    WHERE profile_id >= (SELECT min(from_profile_id) FROM plan)
),

-- the reading of the order's text and code: the pair's, or its setting's when an abbreviation waits on it
readings AS (
    SELECT o.profile_id,
        CASE WHEN len(r.abbreviations_pending) > 0 THEN s.condition_id ELSE r.condition_id END AS condition_id,
        CASE WHEN len(r.abbreviations_pending) > 0 THEN s.matched_by ELSE r.matched_by END AS matched_by,
        CASE WHEN len(r.abbreviations_pending) > 0 THEN s.flags ELSE r.flags END AS flags,
        CASE WHEN len(r.abbreviations_pending) > 0 THEN s.context_note ELSE r.context_note END AS context_note,
        CASE WHEN len(r.abbreviations_pending) > 0 THEN s.code_note ELSE r.code_note END AS code_note,
        r.code_severity, r.text_severity, r.text_refractory, r.text_plasma_exchange, r.text_methylprednisolone,
        r.code_exacerbation, r.text_exacerbation
    FROM profiles AS o
    JOIN indication_resolution AS r
      ON r.indication IS NOT DISTINCT FROM o.indication AND r.diagnosis_code IS NOT DISTINCT FROM o.diagnosis_code
    LEFT JOIN indication_setting_resolution AS s
      ON len(r.abbreviations_pending) > 0
     AND s.indication IS NOT DISTINCT FROM o.indication AND s.diagnosis_code IS NOT DISTINCT FROM o.diagnosis_code
     AND s.age_years IS NOT DISTINCT FROM o.age_years AND s.specialty IS NOT DISTINCT FROM o.specialty
),

order_facts AS (
    SELECT
        o.profile_id, o.indication, o.diagnosis_code, o.specialty, o.severity AS severity_given,
        o.refractory AS refractory_given, o.plasma_exchange AS plasma_exchange_given,
        o.with_methylprednisolone AS methylprednisolone_given, o.age_years,
        r.condition_id, r.matched_by, r.flags AS indication_flags, r.context_note, r.code_note,
        c.label AS condition_label, c.scope,
        coalesce(column_severity.value, r.code_severity, r.text_severity, 'unknown') AS severity,
        nullif(trim(o.severity), '') IS NOT NULL AND column_severity.value IS NULL AS severity_unreadable,
        CASE WHEN o.refractory IS NULL THEN coalesce(r.text_refractory, 'unknown')
             ELSE yes_no_unknown(o.refractory) END AS refractory,
        CASE WHEN o.plasma_exchange IS NULL THEN coalesce(r.text_plasma_exchange, 'unknown')
             ELSE yes_no_unknown(o.plasma_exchange) END AS plasma_exchange,
        CASE WHEN o.with_methylprednisolone IS NULL THEN coalesce(r.text_methylprednisolone, 'unknown')
             ELSE yes_no_unknown(o.with_methylprednisolone) END AS with_methylprednisolone,
        -- MG phase: no extract column records it; the code (G70.01), then the text
        coalesce(r.code_exacerbation, r.text_exacerbation, 'unknown') AS exacerbation
    FROM profiles AS o
    JOIN readings AS r USING (profile_id)
    LEFT JOIN ref_conditions AS c USING (condition_id)
    LEFT JOIN severity_terms AS column_severity ON column_severity.term = normalise_text(o.severity)
),

-- each profile under each rule set that classifies it
work AS (
    SELECT plan.ruleset_id, f.*
    FROM order_facts AS f
    JOIN plan ON f.profile_id >= plan.from_profile_id
),

-- Every rule of the rule set whose condition and population match the order: verdict rules
-- (the first by rule_order wins) and flag rules (all apply). A rule bounded by age, for an order
-- whose age is not recorded, neither matches nor fails: it stops the verdict (age_unknown).
applicable_rules AS (
    SELECT f.profile_id, rule.*,
           f.age_years IS NULL AND (rule.age_min IS NOT NULL OR rule.age_max IS NOT NULL) AS age_unknown
    FROM work AS f
    JOIN (SELECT 'verdict' AS kind, * FROM guideline_rules
          UNION ALL BY NAME
          SELECT 'flag' AS kind, * FROM guideline_flag_rules) AS rule
      ON rule.ruleset_id = f.ruleset_id AND rule.condition_id = f.condition_id
    WHERE (rule.age_min IS NULL OR f.age_years >= rule.age_min OR f.age_years IS NULL)
      AND (rule.age_max IS NULL OR f.age_years < rule.age_max OR f.age_years IS NULL)
      AND (rule.severity IS NULL OR list_contains(rule.severity, f.severity))
      AND (rule.refractory IS NULL OR list_contains(rule.refractory, f.refractory))
      AND (rule.plasma_exchange IS NULL OR list_contains(rule.plasma_exchange, f.plasma_exchange))
      AND (rule.with_methylprednisolone IS NULL
           OR list_contains(rule.with_methylprednisolone, f.with_methylprednisolone))
      AND (rule.exacerbation IS NULL OR list_contains(rule.exacerbation, f.exacerbation))
),

rule_matches AS (
    SELECT * FROM applicable_rules WHERE kind = 'verdict'
    QUALIFY row_number() OVER (PARTITION BY ruleset_id, profile_id ORDER BY rule_order) = 1
),

flag_matches AS (
    SELECT ruleset_id, profile_id,
           list(flag ORDER BY flag) AS flags,
           string_agg('"' || statement || '" [' || section || ']', ' ' ORDER BY flag) AS notes
    FROM applicable_rules WHERE kind = 'flag' AND NOT age_unknown
    GROUP BY ruleset_id, profile_id
),

graded_conditions AS (
    SELECT DISTINCT ruleset_id, condition_id FROM guideline_rules SEMI JOIN plan USING (ruleset_id)
),

verdicts AS (
    SELECT
        f.*,
        coalesce(m.age_unknown, false) AS age_unknown,
        CASE WHEN NOT m.age_unknown THEN m.rule_id END AS rule_id,
        CASE WHEN NOT m.age_unknown THEN m.level END AS evidence_level,
        m.statement, m.note, m.section,
        CASE
            WHEN m.age_unknown THEN 'unknown_indication'
            WHEN m.rule_id IS NOT NULL THEN m.recommendation
            WHEN f.condition_id IS NOT NULL THEN 'outside_guideline'
            ELSE 'unknown_indication'
        END AS recommendation,
        -- outside_guideline: the condition is not graded by this rule set, or it is but not for
        -- this population (mild MG, juvenile dermatomyositis)
        CASE WHEN m.age_unknown THEN NULL
             WHEN m.rule_id IS NOT NULL AND m.recommendation = 'outside_guideline' THEN 'population'
             WHEN m.rule_id IS NULL AND (f.ruleset_id, f.condition_id) IN (SELECT (ruleset_id, condition_id) FROM graded_conditions)
                 THEN 'population'
             WHEN m.rule_id IS NULL AND f.condition_id IS NOT NULL THEN 'condition'
        END AS outside_reason,
        CASE WHEN m.age_unknown THEN ['age_not_recorded'] ELSE coalesce(m.flags, []) END AS rule_flags,
        fm.flags AS flag_rule_flags, fm.notes AS flag_notes,
        -- the population facts the matched rule looked at, to show why it matched
        concat_ws('; ',
            coalesce('age ' || f.age_years, 'age not recorded'),
            CASE WHEN m.severity IS NOT NULL THEN 'severity ' || f.severity END,
            CASE WHEN m.refractory IS NOT NULL THEN 'refractory ' || f.refractory END,
            CASE WHEN m.exacerbation IS NOT NULL THEN 'exacerbation ' || f.exacerbation END,
            CASE WHEN m.plasma_exchange IS NOT NULL OR f.plasma_exchange = 'yes'
                 THEN 'plasma exchange ' || f.plasma_exchange END,
            CASE WHEN m.with_methylprednisolone IS NOT NULL OR f.with_methylprednisolone = 'yes'
                 THEN 'IV methylprednisolone ' || f.with_methylprednisolone END) AS population_note
    FROM work AS f
    LEFT JOIN rule_matches AS m USING (ruleset_id, profile_id)
    LEFT JOIN flag_matches AS fm USING (ruleset_id, profile_id)
),

classified_profiles AS (
    SELECT
        v.profile_id,
        v.condition_id AS condition,
        v.evidence_level,
        v.recommendation,
        v.outside_reason,
        list_sort(list_distinct(list_concat(
            v.indication_flags, v.rule_flags, coalesce(v.flag_rule_flags, []),
            CASE WHEN v.severity_unreadable THEN ['severity_not_recognised'] ELSE [] END))) AS flags,
        rec.label
        || coalesce(' (Level ' || v.evidence_level || ')', '') || '. '
        || CASE
            WHEN v.condition_id IS NULL THEN
                'Audit note: '
                || CASE WHEN list_contains(v.indication_flags, 'indication_ambiguous')
                            THEN 'the text names more than one condition and no diagnosis code settles it.'
                        WHEN list_contains(v.indication_flags, 'abbreviation_ambiguous')
                            THEN 'an abbreviation in the text has another common meaning and nothing on the order supports the condition.'
                        WHEN list_contains(v.indication_flags, 'code_ambiguous')
                            THEN 'the diagnosis code covers more than one condition and the text does not say which.'
                        WHEN list_has_any(v.indication_flags, ['mention_negated', 'mention_historical', 'mention_family'])
                            THEN 'every condition the text names is negated, in the past or another person''s.'
                        WHEN list_contains(v.indication_flags, 'indication_not_recognised')
                            THEN 'the indication text names no condition in the vocabulary.'
                        WHEN list_contains(v.indication_flags, 'indication_placeholder')
                            THEN 'the indication is a placeholder, not a diagnosis.'
                        ELSE 'the indication is blank.' END
                || CASE WHEN list_contains(v.indication_flags, 'code_not_recognised')
                            THEN ' The diagnosis code is not one the vocabulary knows.' ELSE '' END
            WHEN v.age_unknown THEN
                v.condition_label || ' (from ' || v.matched_by || '). Audit note: ' || rs.short_name
                || ' grades this condition by age, and the age is not recorded: not graded.'
            WHEN v.rule_id IS NULL THEN
                v.condition_label || ' (from ' || v.matched_by || '). Audit note: ' || rs.short_name
                || ' does not grade IVIg for this condition.'
            ELSE
                v.condition_label || ' (from ' || v.matched_by || '; ' || v.population_note || '). '
                || rs.short_name || ', ' || v.section || ': "' || v.statement || '"'
                || coalesce(' Audit note: ' || v.note, '')
        END
        || CASE WHEN v.flag_notes IS NOT NULL THEN ' Also ' || rs.short_name || ': ' || v.flag_notes ELSE '' END
        || coalesce(' Audit note on the code: ' || v.code_note || '.', '')
        || coalesce(' Audit note on the text: ' || v.context_note || '.', '') AS rationale,
        rs.ruleset_id,
        rs.version AS ruleset_version,
        rs.content_sha256 AS ruleset_sha256,
        v.rule_id,
        CASE WHEN v.rule_id IS NOT NULL THEN v.section END AS guideline_section
    FROM verdicts AS v
    JOIN rulesets AS rs USING (ruleset_id)
    JOIN ref_recommendations AS rec USING (recommendation)
)

SELECT
    profile_id, ruleset_id, condition, evidence_level, recommendation, outside_reason, flags, rationale, rule_id,
    guideline_section, ruleset_version, ruleset_sha256, $vocabulary_version AS vocabulary_version
FROM classified_profiles;
