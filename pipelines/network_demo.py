"""`ivig-audit network-demo`: a small network of generated sites, each audited on its own (its own
database and pseudonymisation key file) and bundled, then the network flow over their bundles.
Run inside pipelines.serve.prefect_api(): the flows are Prefect flows."""
from datetime import date
from pathlib import Path

import polars as pl

from pipelines.generate import ExtractFiles, generate

# site, orders, seed, the last day it bundles (None: its latest order). SITE_C stopped sending
# extracts in mid-2025, so its bundle is stale; SITE_D is expected but never delivered.
DEMO_SITES = (("SITE_A", 6000, 11, None), ("SITE_B", 4000, 12, None), ("SITE_C", 3000, 13, date(2025, 6, 30)))
EXPECTED = ("SITE_A", "SITE_B", "SITE_C", "SITE_D")


def write_site_extracts(site: str, n_orders: int, inbox: Path, seed: int) -> ExtractFiles:
    """The generator's orders and assessments extracts with every row at one site."""
    inbox.mkdir(parents=True, exist_ok=True)
    extracts = generate(n_orders, seed)
    files = ExtractFiles(inbox / f"orders_{site}.csv", inbox / f"assessments_{site}.csv")
    extracts.orders.with_columns(site=pl.lit(site)).write_csv(files.orders)
    extracts.assessments.with_columns(site=pl.lit(site)).write_csv(files.assessments)
    return files


def run_demo(out: Path):
    """Audit and bundle each demo site into <out>/bundles, then run the network flow into
    <out>/network; return its summary."""
    from pipelines.network_flow import network_run, site_run
    bundles = out / "bundles"
    for site, n_orders, seed, until in DEMO_SITES:
        home = out / "sites" / site
        write_site_extracts(site, n_orders, home / "inbox", seed)
        site_run(site=site, inbox=home / "inbox", db_path=home / "ivig_audit.duckdb", out_dir=home,
                 bundle_dir=bundles, until=until)
    return network_run(bundle_dir=bundles, out_dir=out / "network", expected_sites=list(EXPECTED))
