"""The money section: spend by recommendation and condition, what dosing by dosing weight would
have saved, and the spend on CIDP patients with overuse suspected, from the audit tables and a price
table per product (guideline/prices/, schema-checked; the demo's is an example, and says so). The
figures come from sql/reports/spend.sql; this module reads the prices and sorts its lines."""
from pathlib import Path

import duckdb

from pipelines.paths import GUIDELINE_DIR, SQL_DIR
from pipelines.yaml_data import read_checked_yaml

EXAMPLE_PRICES = GUIDELINE_DIR / "prices" / "example-prices.yaml"


def load_prices(path: Path = EXAMPLE_PRICES) -> dict:
    return read_checked_yaml(path, "prices.schema.json")


def money(con: duckdb.DuckDBPyConnection, prices: dict) -> dict:
    cursor = con.execute((SQL_DIR / "reports" / "spend.sql").read_text(encoding="utf-8"), {"prices": prices["prices"]})
    names = [d[0] for d in cursor.description]
    lines = [dict(zip(names, row)) for row in cursor.fetchall()]
    use = [line for line in lines if line["kind"] == "use"]
    single = {line["kind"]: line for line in lines if line["kind"] != "use"}
    return {"prices": prices, "use": use,
            "total_spend": sum(line["spend"] for line in use), "unpriced_grams": single["unpriced"]["grams"] or 0,
            "dosing_weight": single["dosing_weight"], "cidp": single["cidp_overuse_suspected"]}
