"""Site profiles: how one hospital's extracts differ from the standard formats (headers, dates,
units, delimiter, encoding, sheet, yes/no spellings). Schema: guideline/schema/site_profile.schema.json;
example: sample_data/profiles/example-site.yaml.

Profile values reach SQL only as bound parameters, never as SQL text."""
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pipelines.db import AuditError
from pipelines.yaml_data import read_checked_yaml

DOSE_TO_G = {"g": 1.0, "mg": 0.001}
WEIGHT_TO_KG = {"kg": 1.0, "lb": 0.45359237}
HEIGHT_TO_CM = {"cm": 1.0, "m": 100.0, "in": 2.54}


class ProfileError(AuditError):
    """A site profile file is unreadable or does not match its schema."""


@dataclass(frozen=True)
class SiteProfile:
    site: str = "local"
    kind: str | None = None
    encoding: str = "auto"
    delimiter: str | None = None
    sheet: str | None = None
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    decimal_comma: bool = False
    units: dict = field(default_factory=lambda: {"dose": "g", "weight": "kg", "height": "cm"})
    yes_values: tuple[str, ...] = ("y", "yes", "true", "t", "1")
    no_values: tuple[str, ...] = ("n", "no", "false", "f", "0")
    columns: dict = field(default_factory=dict)  # standard name -> the site's header

    def fingerprint(self) -> str:
        """Identifies the reading settings: a file rejected under one profile is retried under another."""
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()

    def parse_params(self) -> dict:
        """Named parameters for the staging SQL."""
        return {
            "default_site": self.site,
            "date_formats": list(self.date_formats),
            "decimal_comma": self.decimal_comma,
            "dose_to_g": DOSE_TO_G[self.units.get("dose", "g")],
            "weight_to_kg": WEIGHT_TO_KG[self.units.get("weight", "kg")],
            "height_to_cm": HEIGHT_TO_CM[self.units.get("height", "cm")],
            "yes_values": [v.lower() for v in self.yes_values],
            "no_values": [v.lower() for v in self.no_values],
        }


def load_profile(path: Path | None, site: str | None = None) -> SiteProfile:
    """The profile in `path` (or the standard format); `site` (from --site) overrides its site code."""
    if path is None:
        return SiteProfile(site=site or "local")
    if not path.is_file():
        raise ProfileError(f"{path}: site profile not found")
    document = read_checked_yaml(path, "site_profile.schema.json", ProfileError)
    if not isinstance(document, dict):
        raise ProfileError(f"{path}: a site profile must be a mapping of settings")
    defaults = SiteProfile()
    units = {**defaults.units, **document.get("units", {})}
    formats = tuple(document.get("date_formats", ())) + defaults.date_formats
    return SiteProfile(
        site=site or document["site"],
        kind=document.get("kind"),
        encoding=document.get("encoding", "auto"),
        delimiter=document.get("delimiter"),
        sheet=document.get("sheet"),
        date_formats=formats,
        decimal_comma=document.get("decimal_comma", False),
        units=units,
        yes_values=tuple(document.get("yes_values", defaults.yes_values)),
        no_values=tuple(document.get("no_values", defaults.no_values)),
        columns=document.get("columns", {}),
    )
