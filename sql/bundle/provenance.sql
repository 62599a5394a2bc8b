-- Kind: site bundle metadata (temporary; pipelines/bundle.py puts it in manifest.json).
-- Grain: one row per rule set (id and version) that classified the site's orders (one, unless the
-- database is inconsistent), with a digest of the vocabulary that resolved their indications.
-- Inputs: order_audit (site $site), ref_conditions, ref_condition_terms, ref_codes,
-- ref_qualifier_terms, ref_placeholders (as the site's latest run wrote them from guideline/).
CREATE OR REPLACE TEMP TABLE bundle_provenance AS
WITH
rulesets AS (
    SELECT DISTINCT guideline_id AS ruleset_id, guideline_version AS ruleset_version
    FROM order_audit
    WHERE site = $site
),

vocabulary_rows AS (
    SELECT 'condition ' || c::VARCHAR AS line FROM ref_conditions AS c
    UNION ALL SELECT 'term ' || t::VARCHAR FROM ref_condition_terms AS t
    UNION ALL SELECT 'code ' || k::VARCHAR FROM ref_codes AS k
    UNION ALL SELECT 'qualifier ' || q::VARCHAR FROM ref_qualifier_terms AS q
    UNION ALL SELECT 'placeholder ' || p::VARCHAR FROM ref_placeholders AS p
),

vocabulary AS (
    SELECT sha256(string_agg(line, chr(10) ORDER BY line)) AS vocabulary_sha256 FROM vocabulary_rows
)

SELECT r.ruleset_id, r.ruleset_version, v.vocabulary_sha256
FROM rulesets AS r, vocabulary AS v
ORDER BY r.ruleset_id, r.ruleset_version;
