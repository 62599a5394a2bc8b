-- Kind: full (a few rows). Grain: one row per rule set the verdicts in profile_verdicts are under.
-- Inputs: ruleset_audit_plan (temp, pipelines/classify.py), guideline_rulesets. Which one is
-- primary (order_audit and the dashboard's main figures read it), and the versions behind its
-- verdicts: a run compares this with the rule sets it is given to know which to audit again.
CREATE OR REPLACE TABLE audit_rulesets AS
WITH
plan AS (
    SELECT ruleset_id, ruleset_sha256 FROM ruleset_audit_plan
),

rulesets AS (
    SELECT ruleset_id, version FROM guideline_rulesets
)

SELECT
    p.ruleset_id,
    p.ruleset_id = $primary AS is_primary,
    r.version AS ruleset_version,
    p.ruleset_sha256
FROM plan AS p
JOIN rulesets AS r USING (ruleset_id)
ORDER BY NOT is_primary, p.ruleset_id;
