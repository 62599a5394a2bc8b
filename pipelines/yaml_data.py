"""Reading the project's YAML data files (rule sets, vocabulary, checks, site profiles) and
checking each against its JSON Schema, with errors that name the file and the place in it."""
import json
from functools import cache
from pathlib import Path

import yaml

from pipelines.db import AuditError
from pipelines.paths import GUIDELINE_DIR

# libyaml's safe loader when PyYAML was built with it: the same documents, about 7 times faster.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path, error: type[AuditError] = AuditError):
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_SAFE_LOADER)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise error(f"{path}: cannot be read as YAML ({exc})") from exc


def check_schema(document, schema_name: str, path: Path, error: type[AuditError] = AuditError) -> None:
    schema_text = (GUIDELINE_DIR / "schema" / schema_name).read_text(encoding="utf-8")
    errors = sorted(_validator(schema_text).iter_errors(document),
                    key=lambda e: [f"{p:09d}" if isinstance(p, int) else p for p in e.absolute_path])
    if errors:  # every problem, one line each
        raise error("\n".join(f"{path}: {_where(e.absolute_path)}: {e.message}" for e in errors))


@cache
def _validator(schema_text: str):
    """One validator per schema text in a process (the vocabulary's checks every vocabulary file;
    keyed on the text, so an edited schema gets a new one). jsonschema is imported here, when
    something is checked: `classify` with its reference tables cached checks nothing."""
    from jsonschema import Draft202012Validator, FormatChecker
    return Draft202012Validator(json.loads(schema_text), format_checker=FormatChecker())


def _where(place) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in place).lstrip(".") or "top level"


def read_checked_yaml(path: Path, schema_name: str, error: type[AuditError] = AuditError):
    document = read_yaml(path, error)
    check_schema(document, schema_name, path, error)
    return document
