-- Kind: view. Grain: one row per rule set audited (audit_rulesets), the primary first: its status,
-- governance and the warnings the dashboard and the run summary show. A view, so a next_review that
-- passes between runs warns without a rebuild. Inputs: audit_rulesets, guideline_rulesets.
CREATE OR REPLACE VIEW mart_ruleset_governance AS
WITH
audited AS (
    SELECT ruleset_id, is_primary, ruleset_version, ruleset_sha256 FROM audit_rulesets
),

rulesets AS (
    SELECT ruleset_id, short_name, title, publisher_status, governance_status, authored_by, checked_by,
           clinical_check, date_reviewed, next_review
    FROM guideline_rulesets
),

warned AS (
    SELECT a.*, r.* EXCLUDE (ruleset_id),
        list_filter([
            CASE WHEN r.governance_status <> 'active'
                 THEN 'governance status is ' || r.governance_status || ', not active' END,
            CASE WHEN r.clinical_check <> 'completed' THEN 'clinical check ' || r.clinical_check END,
            CASE WHEN r.next_review < current_date
                 THEN 'next review was due ' || strftime(r.next_review, '%Y-%m-%d') END], lambda x: x IS NOT NULL) AS warnings
    FROM audited AS a
    JOIN rulesets AS r USING (ruleset_id)
)

SELECT ruleset_id, is_primary, short_name, title, ruleset_version, ruleset_sha256, publisher_status,
       governance_status, authored_by, checked_by, clinical_check, date_reviewed, next_review, warnings
FROM warned
ORDER BY NOT is_primary, ruleset_id;
