"""Load the guideline rule sets and the indication vocabulary from guideline/, check them against
their schemas and against each other, and write them into DuckDB as reference tables.

A rule set is one YAML file; a new guideline or a local policy is a new file, not new code.
"""
import datetime
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb

from pipelines.db import AuditError, insert_rows, run_sql_file
from pipelines.paths import DEFAULT_RULESET, GUIDELINE_DIR
from pipelines.yaml_data import check_schema, read_yaml


class GuidelineError(AuditError):
    """A rule set or vocabulary file is malformed or inconsistent."""


POPULATION_FIELDS = ("severity", "refractory", "plasma_exchange", "with_methylprednisolone", "exacerbation")
VOCABULARY_DIR = GUIDELINE_DIR / "vocabulary"


@dataclass(frozen=True)
class Reference:
    vocabulary: dict
    rulesets: dict  # ruleset id -> (source file, parsed document)
    vocabulary_version: str  # content hash of guideline/vocabulary/*.yaml (vocabulary_version())


def vocabulary_version(directory: Path = VOCABULARY_DIR) -> str:
    """A content hash of the vocabulary files (names and bytes; 16 hex digits of SHA-256), so a
    verdict can record which vocabulary read its indication."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.yaml")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def load_vocabulary(directory: Path = VOCABULARY_DIR) -> dict:
    merged: dict = {}
    for path in sorted(directory.glob("*.yaml")):
        document = read_yaml(path, GuidelineError) or {}
        check_schema(document, "vocabulary.schema.json", path, GuidelineError)
        for key, value in document.items():
            if key in merged:
                raise GuidelineError(f"{path}: section '{key}' is defined in more than one vocabulary file")
            merged[key] = value
    for required in ("conditions", "codes", "qualifiers", "placeholders", "measures", "context",
                     "ambiguous_abbreviations"):
        if required not in merged:
            raise GuidelineError(f"{directory}: no vocabulary file defines '{required}'")
    _check_vocabulary(merged, directory)
    return merged


def _check_vocabulary(vocabulary: dict, where: Path) -> None:
    ids = [c["id"] for c in vocabulary["conditions"]]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise GuidelineError(f"{where}: condition ids defined twice: {sorted(duplicates)}")
    owner: dict[str, str] = {}
    for condition in vocabulary["conditions"]:
        for term in condition["terms"]:
            key = " ".join(term.lower().split())
            if owner.setdefault(key, condition["id"]) != condition["id"]:
                raise GuidelineError(
                    f"{where}: term '{term}' names both {owner[key]} and {condition['id']}")
    known = set(ids)
    _check_context(vocabulary["context"], where)
    _check_abbreviations(vocabulary["ambiguous_abbreviations"], vocabulary["conditions"], where)
    for code in vocabulary["codes"]:
        named = set(code["conditions"]) | ({code["default"]} if "default" in code else set())
        unknown = named - known
        if unknown:
            raise GuidelineError(f"{where}: code {code['prefix']} names unknown conditions {sorted(unknown)}")
        if "default" in code and code["default"] not in code["conditions"]:
            raise GuidelineError(f"{where}: code {code['prefix']}: default is not among its conditions")


def _words(text: str) -> str:
    """A term as the vocabulary compares them (case and spacing aside; the SQL splits the words)."""
    return " ".join(text.lower().split())


def _check_context(context: dict, where: Path) -> None:
    """A trigger, pseudo-trigger or terminator phrase is listed once: two meanings for one phrase
    would depend on the order of the file."""
    seen: dict[str, str] = {}
    phrases = [("terminators", t) for t in context["terminators"]] + [("pseudo", t) for t in context["pseudo"]]
    phrases += [(f"{t['category']} {t['direction']} triggers", term) for t in context["triggers"] for term in t["terms"]]
    for kind, phrase in phrases:
        if seen.setdefault(_words(phrase), kind) != kind or phrases.count((kind, phrase)) > 1:
            raise GuidelineError(f"{where}: context phrase '{phrase}' is listed more than once "
                                 f"({seen[_words(phrase)]}, {kind})")


def _check_abbreviations(abbreviations: list, conditions: list, where: Path) -> None:
    terms = {c["id"]: {_words(t) for t in c["terms"]} for c in conditions}
    seen: set[str] = set()
    for entry in abbreviations:
        term, condition = _words(entry["term"]), entry["condition"]
        if term in seen:
            raise GuidelineError(f"{where}: ambiguous abbreviation '{entry['term']}' is listed twice")
        seen.add(term)
        if term not in terms.get(condition, set()):
            raise GuidelineError(f"{where}: ambiguous abbreviation '{entry['term']}' is not a term of "
                                 f"condition '{condition}' in conditions.yaml")
        ages = entry["supported_by"].get("ages", {})
        if ages.get("min", 0) >= ages.get("max", 999):
            raise GuidelineError(f"{where}: ambiguous abbreviation '{entry['term']}': ages min must be below max")


def load_ruleset(path: Path, condition_ids: set[str]) -> dict:
    """Read and check one rule set. A rule that names one of the rule set's categories gets its
    recommendation, direction and evidence class from it (the mapping is held in the file)."""
    document = read_yaml(path, GuidelineError)
    if not isinstance(document, dict):
        raise GuidelineError(f"{path}: a rule set must be a mapping with 'ruleset' and 'rules'")
    check_schema(document, "ruleset.schema.json", path, GuidelineError)
    categories = {c["id"]: c for c in document["ruleset"].get("categories", [])}
    if len(categories) != len(document["ruleset"].get("categories", [])):
        raise GuidelineError(f"{path}: ruleset.categories: a category id is used twice")
    source = _source_text(path, document["ruleset"].get("source_text"))
    seen: set[str] = set()
    for kind in ("rules", "flag_rules"):
        for index, rule in enumerate(document.get(kind, [])):
            where = f"{path}: {kind}[{index}] ({rule['id']})"
            if rule["id"] in seen:
                raise GuidelineError(f"{where}: rule id used twice")
            seen.add(rule["id"])
            if rule["condition"] not in condition_ids:
                raise GuidelineError(f"{where}: condition '{rule['condition']}' is not in the vocabulary")
            population = rule.get("population", {})
            if population.get("age_min", 0) >= population.get("age_max", 999):
                raise GuidelineError(f"{where}: age_min must be below age_max")
            if source is not None and " ".join(rule["statement"].split()) not in source:
                raise GuidelineError(f"{where}: statement is not word for word in the source text "
                                     f"{document['ruleset']['source_text']}")
            if "category" in rule:
                if rule["category"] not in categories:
                    raise GuidelineError(f"{where}: category '{rule['category']}' is not in ruleset.categories")
                category = categories[rule["category"]]
                rule.update(recommendation=category["recommendation"], direction=category["direction"],
                            evidence_class=category.get("evidence_class"))
            graded = rule.get("level") is not None or "category" in rule
            if kind == "rules" and graded != (rule["recommendation"] not in ("outside_guideline", "unknown_indication")):
                raise GuidelineError(
                    f"{where}: a graded recommendation needs a level or a category, and outside_guideline / "
                    "unknown_indication must not have one")
    return document


def _source_text(ruleset_path: Path, source: str | None) -> str | None:
    """The source's text named by a rule set (relative to its file), spacing aside."""
    if source is None:
        return None
    path = ruleset_path.parent / source
    try:
        return " ".join(path.read_text(encoding="utf-8").split())
    except (OSError, UnicodeDecodeError) as exc:
        raise GuidelineError(f"{ruleset_path}: ruleset.source_text {source} cannot be read ({exc})") from exc


def governance_warnings(document: dict, today: datetime.date) -> list[str]:
    """What a reader of a verdict under this rule set should know about its governance on `today`,
    one plain sentence each: not active, clinical check pending, next review passed."""
    meta = document["ruleset"]
    governance, name = meta["governance"], meta["short_name"]
    warnings = []
    if governance["status"] != "active":
        warnings.append(f"{name} is {governance['status']}, not active: its verdicts are not yet "
                        "approved for use.")
    if governance["clinical_check"] != "completed":
        warnings.append(f"{name}: clinical check pending (checked by: {governance['checked_by']}).")
    next_review = datetime.date.fromisoformat(str(governance["next_review"]))
    if next_review < today:
        warnings.append(f"{name}: next review was due {next_review.isoformat()} and has passed.")
    return warnings


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_reference(extra_rulesets: tuple[Path, ...] = ()) -> Reference:
    """All rule sets in guideline/rulesets/, plus the files given (local policies)."""
    vocabulary = load_vocabulary()
    version = vocabulary_version()
    condition_ids = {c["id"] for c in vocabulary["conditions"]}
    paths = sorted((GUIDELINE_DIR / "rulesets").glob("*.yaml"))
    for extra in extra_rulesets:
        if not extra.is_file():
            raise GuidelineError(f"{extra}: rule set file not found")
        paths.append(extra)
    rulesets: dict = {}
    for path in paths:
        document = load_ruleset(path, condition_ids)
        ruleset_id = document["ruleset"]["id"]
        if ruleset_id in rulesets and rulesets[ruleset_id][0] != path:
            raise GuidelineError(f"{path}: rule set id '{ruleset_id}' is also used by {rulesets[ruleset_id][0]}")
        rulesets[ruleset_id] = (path, document)
    for ruleset_id, (path, document) in rulesets.items():
        if "based_on" in document["ruleset"]:
            rulesets[ruleset_id] = (path, _with_base(path, document, rulesets))
    return Reference(vocabulary, rulesets, version)


def _with_base(path: Path, document: dict, rulesets: dict) -> dict:
    """A rule set based on another (a local policy that follows a guideline except where it says
    otherwise): its own rules first, so they win (the first matching rule of a condition gives the
    verdict), then the base's rules whose ids it does not reuse, each base section prefixed with the
    base's short name, since the quote is the base's."""
    base_id = document["ruleset"]["based_on"]
    if base_id not in rulesets:
        raise GuidelineError(f"{path}: ruleset.based_on: unknown rule set '{base_id}' "
                             f"(known: {', '.join(sorted(rulesets))})")
    base = rulesets[base_id][1]
    if "based_on" in base["ruleset"]:
        raise GuidelineError(f"{path}: ruleset.based_on: '{base_id}' is itself based on another rule set")
    merged = dict(document)
    name = base["ruleset"]["short_name"]
    for kind in ("rules", "flag_rules"):
        own = document.get(kind, [])
        ids = {rule["id"] for rule in own}
        merged[kind] = own + [{**rule, "section": f"{name}: {rule['section']}"}
                              for rule in base.get(kind, []) if rule["id"] not in ids]
    return merged


def resolve_ruleset(reference: Reference, guideline: str | None) -> str:
    """The rule set id to classify with: an id, or the path of a rule set file."""
    if guideline is None:
        return DEFAULT_RULESET
    for ruleset_id, (path, _) in reference.rulesets.items():
        if guideline == ruleset_id or Path(guideline).resolve() == path.resolve():
            return ruleset_id
    raise GuidelineError(f"unknown rule set '{guideline}' (known: {', '.join(sorted(reference.rulesets))})")


def _population_row(rule: dict) -> dict:
    population = rule.get("population", {})
    row = {"age_min": population.get("age_min"), "age_max": population.get("age_max")}
    row.update({field: population.get(field) for field in POPULATION_FIELDS})
    return row


def write_reference(con: duckdb.DuckDBPyConnection, reference: Reference) -> None:
    """Replace the ref_* and guideline_* tables with the loaded data (small: a few hundred rows)."""
    vocabulary = reference.vocabulary
    tables = {
        "ref_conditions": [
            {"condition_id": c["id"], "label": c["label"], "scope": c["scope"], "neuromuscular": c["neuromuscular"],
             "specificity": c["specificity"]}
            for c in vocabulary["conditions"]],
        "ref_condition_terms": [
            {"condition_id": c["id"], "term": term} for c in vocabulary["conditions"] for term in c["terms"]],
        "ref_codes": [
            {"prefix": code["prefix"], "conditions": code["conditions"], "default_condition": code.get("default"),
             "code_severity": code.get("severity"), "code_exacerbation": code.get("exacerbation"),
             "needs_text": code.get("needs_text", False), "note": code.get("note")}
            for code in vocabulary["codes"]],
        "ref_qualifier_terms": [
            {"qualifier": name, "value": entry["value"], "precedence": rank, "term": term}
            for name, entries in vocabulary["qualifiers"].items()
            for rank, entry in enumerate(entries) for term in entry["terms"]],
        "ref_context_phrases": _context_rows(vocabulary["context"]),
        "ref_abbreviations": [
            {"term": a["term"], "condition_id": a["condition"], "other_senses": a["other_senses"],
             "support_words": a["supported_by"].get("words", []),
             "support_specialties": a["supported_by"].get("specialties", []),
             "support_age_min": a["supported_by"].get("ages", {}).get("min"),
             "support_age_max": a["supported_by"].get("ages", {}).get("max"),
             "other_sense_words": a.get("other_sense", {}).get("words", []),
             "other_sense_specialties": a.get("other_sense", {}).get("specialties", [])}
            for a in vocabulary["ambiguous_abbreviations"]],
        "ref_placeholders": [{"term": term} for term in vocabulary["placeholders"]],
        "ref_measures": [
            {"measure": m["id"], "label": m["label"], "scale_min": m["min"], "scale_max": m["max"],
             "better": m["better"], "mid": m["mid"], "mid_source": " ".join(m["mid_source"].split())}
            for m in vocabulary["measures"]],
        "ref_measure_aliases": [
            {"measure": measure, "alias_key": key} for measure, key in sorted({
                (m["id"], re.sub(r"[^A-Z0-9]", "", alias.upper()))
                for m in vocabulary["measures"] for alias in (m["id"], *m["aliases"])})],
        "guideline_rulesets": [],
        "guideline_rules": [],
        "guideline_flag_rules": [],
        "guideline_categories": [],
    }
    for ruleset_id, (path, document) in reference.rulesets.items():
        meta, governance = document["ruleset"], document["ruleset"]["governance"]
        tables["guideline_rulesets"].append({
            "ruleset_id": ruleset_id, "title": meta["title"], "short_name": meta["short_name"],
            "version": meta["version"], "publisher": meta["publisher"], "citation": meta["citation"],
            "publisher_status": meta["publisher_status"], "status_note": meta.get("status_note"),
            "governance_status": governance["status"], "authored_by": governance["authored_by"],
            "checked_by": governance["checked_by"], "clinical_check": governance["clinical_check"],
            "date_reviewed": str(governance["date_reviewed"]),
            "next_review": str(governance["next_review"]), "source_file": str(path),
            "content_sha256": file_sha256(path)})
        tables["guideline_categories"] += [
            {"ruleset_id": ruleset_id, "category": c["id"], "label": c["label"], "direction": c["direction"],
             "evidence_class": c.get("evidence_class"), "recommendation": c["recommendation"],
             "why": " ".join(c["why"].split())}
            for c in meta.get("categories", [])]
        for order, rule in enumerate(document["rules"]):
            tables["guideline_rules"].append({
                "ruleset_id": ruleset_id, "rule_id": rule["id"], "rule_order": order,
                "condition_id": rule["condition"], **_population_row(rule),
                "level": rule.get("level"), "direction": rule.get("direction"),
                "category": rule.get("category"), "evidence_class": rule.get("evidence_class"),
                "verified": rule.get("verified", {}).get("how"),
                "recommendation": rule["recommendation"], "statement": " ".join(rule["statement"].split()),
                "note": " ".join(rule["note"].split()) if "note" in rule else None,
                "section": rule["section"], "flags": rule.get("flags", [])})
        for rule in document.get("flag_rules", []):
            tables["guideline_flag_rules"].append({
                "ruleset_id": ruleset_id, "rule_id": rule["id"], "condition_id": rule["condition"],
                **_population_row(rule), "level": rule.get("level"), "flag": rule["flag"],
                "statement": " ".join(rule["statement"].split()), "section": rule["section"]})
    run_sql_file(con, "reference_schema.sql")
    for name, rows in tables.items():
        insert_rows(con, name, rows)


def _context_rows(context: dict) -> list[dict]:
    rows = [{"kind": kind, "category": None, "direction": None, "max_scope": None, "term": term}
            for kind, key in (("terminator", "terminators"), ("pseudo", "pseudo")) for term in context[key]]
    rows += [{"kind": "trigger", "category": group["category"], "direction": group["direction"],
              "max_scope": group.get("max_scope", context["max_scope"]), "term": term}
             for group in context["triggers"] for term in group["terms"]]
    return rows


def load_for(guideline: str | None) -> tuple[Reference, str]:
    """Load the reference data and pick the rule set named by --guideline (an id or a YAML path)."""
    loaded, primary, _ = load_for_run(guideline)
    return loaded, primary


def load_for_run(guideline: str | None, also: tuple[str, ...] = ()) -> tuple[Reference, str, tuple[str, ...]]:
    """The reference data, the primary rule set (--guideline) and the others audited beside it
    (--also-guideline), each named by id or YAML path; the others in the order given, without the
    primary or repeats."""
    named = [name for name in (guideline, *also) if name]
    loaded = load_reference(tuple(Path(name) for name in named if name.endswith((".yaml", ".yml"))))
    primary = resolve_ruleset(loaded, guideline)
    others = tuple(dict.fromkeys(i for i in (resolve_ruleset(loaded, name) for name in also) if i != primary))
    return loaded, primary, others
