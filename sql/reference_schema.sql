-- Reference tables rebuilt from guideline/ on every run (pipelines/reference.py fills them).
CREATE OR REPLACE TABLE ref_conditions (
    condition_id VARCHAR PRIMARY KEY, label VARCHAR NOT NULL, scope VARCHAR NOT NULL, neuromuscular BOOLEAN NOT NULL,
    specificity INTEGER NOT NULL);
CREATE OR REPLACE TABLE ref_condition_terms (condition_id VARCHAR NOT NULL, term VARCHAR NOT NULL);
CREATE OR REPLACE TABLE ref_codes (
    prefix VARCHAR NOT NULL, conditions VARCHAR[] NOT NULL, default_condition VARCHAR,
    code_severity VARCHAR, code_exacerbation VARCHAR, needs_text BOOLEAN NOT NULL, note VARCHAR);
CREATE OR REPLACE TABLE ref_qualifier_terms (
    qualifier VARCHAR NOT NULL, value VARCHAR NOT NULL, precedence INTEGER NOT NULL, term VARCHAR NOT NULL);
CREATE OR REPLACE TABLE ref_context_phrases (
    kind VARCHAR NOT NULL, category VARCHAR, direction VARCHAR, max_scope INTEGER, term VARCHAR NOT NULL);
CREATE OR REPLACE TABLE ref_abbreviations (
    term VARCHAR NOT NULL, condition_id VARCHAR NOT NULL, other_senses VARCHAR[] NOT NULL,
    support_words VARCHAR[] NOT NULL, support_specialties VARCHAR[] NOT NULL, support_age_min INTEGER,
    support_age_max INTEGER, other_sense_words VARCHAR[] NOT NULL, other_sense_specialties VARCHAR[] NOT NULL);
DROP TABLE IF EXISTS ref_uncertain_patterns;  -- databases made before the context triggers
CREATE OR REPLACE TABLE ref_placeholders (term VARCHAR NOT NULL);
CREATE OR REPLACE TABLE guideline_rulesets (
    ruleset_id VARCHAR PRIMARY KEY, title VARCHAR, short_name VARCHAR, version VARCHAR, publisher VARCHAR,
    citation VARCHAR, publisher_status VARCHAR, status_note VARCHAR, governance_status VARCHAR,
    authored_by VARCHAR, checked_by VARCHAR, clinical_check VARCHAR, date_reviewed DATE, next_review DATE,
    source_file VARCHAR, content_sha256 VARCHAR);
CREATE OR REPLACE TABLE guideline_categories (
    ruleset_id VARCHAR NOT NULL, category VARCHAR NOT NULL, label VARCHAR NOT NULL, direction VARCHAR NOT NULL,
    evidence_class VARCHAR, recommendation VARCHAR NOT NULL, why VARCHAR NOT NULL);
CREATE OR REPLACE TABLE guideline_rules (
    ruleset_id VARCHAR NOT NULL, rule_id VARCHAR NOT NULL, rule_order INTEGER NOT NULL,
    condition_id VARCHAR NOT NULL, age_min DOUBLE, age_max DOUBLE, severity VARCHAR[],
    refractory VARCHAR[], plasma_exchange VARCHAR[], with_methylprednisolone VARCHAR[], exacerbation VARCHAR[],
    level VARCHAR, direction VARCHAR, category VARCHAR, evidence_class VARCHAR, verified VARCHAR,
    recommendation VARCHAR NOT NULL, statement VARCHAR NOT NULL, note VARCHAR,
    section VARCHAR NOT NULL, flags VARCHAR[] NOT NULL);
CREATE OR REPLACE TABLE guideline_flag_rules (
    ruleset_id VARCHAR NOT NULL, rule_id VARCHAR NOT NULL, condition_id VARCHAR NOT NULL,
    age_min DOUBLE, age_max DOUBLE, severity VARCHAR[], refractory VARCHAR[], plasma_exchange VARCHAR[],
    with_methylprednisolone VARCHAR[], exacerbation VARCHAR[], level VARCHAR, flag VARCHAR NOT NULL,
    statement VARCHAR NOT NULL, section VARCHAR NOT NULL);

-- The contract's recommendation values (docs/design.md), in the order dashboards list them.
CREATE OR REPLACE TABLE ref_recommendations AS
SELECT * FROM (VALUES
    (1, 'offer',                 'A', 'Should be offered'),
    (2, 'consider',              'B', 'Should be considered'),
    (3, 'may_consider',          'C', 'May be considered'),
    (4, 'insufficient_evidence', 'U', 'Evidence insufficient to support or refute'),
    (5, 'should_not',            NULL, 'Should not be considered (evidence against)'),
    (6, 'outside_guideline',     NULL, 'Outside this guideline'),
    (7, 'unknown_indication',    NULL, 'No usable indication')
) AS t(sort_order, recommendation, typical_level, label);

CREATE OR REPLACE TABLE ref_measures (
    measure VARCHAR PRIMARY KEY, label VARCHAR, scale_min DOUBLE, scale_max DOUBLE,
    better VARCHAR, mid DOUBLE, mid_source VARCHAR);
CREATE OR REPLACE TABLE ref_measure_aliases (measure VARCHAR, alias_key VARCHAR PRIMARY KEY);
