"""Reading the project's YAML data files (rule sets, vocabulary, checks, site profiles) and
checking each against its JSON Schema, with errors that name the file and the place in it."""
import json
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, FormatChecker

from pipelines.db import AuditError
from pipelines.paths import GUIDELINE_DIR


def read_yaml(path: Path, error: type[AuditError] = AuditError):
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot be read as YAML ({exc})") from exc


def check_schema(document, schema_name: str, path: Path, error: type[AuditError] = AuditError) -> None:
    schema = json.loads((GUIDELINE_DIR / "schema" / schema_name).read_text(encoding="utf-8"))
    validator = Draft202012Validator(schema, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(document),
                    key=lambda e: [f"{p:09d}" if isinstance(p, int) else p for p in e.absolute_path])
    if errors:  # every problem, one line each
        raise error("\n".join(f"{path}: {_where(e.absolute_path)}: {e.message}" for e in errors))


def _where(place) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in place).lstrip(".") or "top level"


def read_checked_yaml(path: Path, schema_name: str, error: type[AuditError] = AuditError):
    document = read_yaml(path, error)
    check_schema(document, schema_name, path, error)
    return document
