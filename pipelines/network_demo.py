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


# Verdict profiles of the simulated sites: condition, recommendation, share of orders, mean grams
# per order, orders per patient. Shares follow the national picture loosely (immunodeficiency and
# neurology the largest users, a few per cent weak evidence); each site varies around them.
PROFILES = (
    ("cidp", "offer", .22, 60, 10), ("gbs", "offer", .06, 140, 1.2), ("gbs", "should_not", .006, 140, 1.2),
    ("myasthenia_gravis", "consider", .07, 100, 3), ("mmn", "consider", .05, 120, 8),
    ("dermatomyositis", "may_consider", .02, 120, 5), ("lems", "may_consider", .005, 100, 4),
    ("inclusion_body_myositis", "insufficient_evidence", .01, 120, 4),
    ("igm_paraprotein_neuropathy", "insufficient_evidence", .01, 80, 4),
    ("miller_fisher_syndrome", "insufficient_evidence", .005, 140, 1.2),
    ("polymyositis", "insufficient_evidence", .01, 100, 4),
    ("immunodeficiency", "outside_guideline", .30, 30, 12), ("immune_thrombocytopenia", "outside_guideline", .10, 70, 2),
    ("other_indication", "outside_guideline", .05, 60, 2), (None, "unknown_indication", .04, 60, 2),
)
VARYING = ("insufficient_evidence", "should_not", "unknown_indication")  # what sites differ most in


def simulate_sites(db_path: Path, n_sites: int, orders_per_year: int, years: int = 3, stale_sites: int = 0,
                   seed: int = 18) -> list[str]:
    """A database holding the tables a bundle reads (order_audit, cidp_review, the reference
    tables) for n_sites simulated sites sharing orders_per_year orders a year (site sizes vary
    about tenfold), over `years` years to 2025-12-31; the last stale_sites stop six months
    earlier. For the network's scale simulation: a bundle per site comes from it through the same
    SQL as a real site's. Returns the site codes."""
    import duckdb
    import numpy as np

    from pipelines import db, reference
    rng = np.random.default_rng(seed)
    sizes = rng.lognormal(0, 0.8, n_sites)
    orders = np.maximum((sizes / sizes.sum() * orders_per_year * years).astype(int), 50)
    codes = [f"S{index + 1:03d}" for index in range(n_sites)]
    shares = np.array([p[2] for p in PROFILES])
    varying = np.array([p[1] in VARYING for p in PROFILES])
    frames = []
    for index, (code, n) in enumerate(zip(codes, orders)):
        site_shares = np.where(varying, shares * rng.lognormal(0, 0.5), shares)
        site_shares /= site_shares.sum()
        profile = rng.choice(len(PROFILES), n, p=site_shares)
        end = date(2025, 6, 30) if index >= n_sites - stale_sites else date(2025, 12, 31)
        days = rng.integers(0, 365 * years, n)
        pool = np.maximum(np.bincount(profile, minlength=len(PROFILES)) / np.array([p[4] for p in PROFILES]), 1)
        frames.append(pl.DataFrame({
            "site": code,
            "order_id": [f"{code}-{i}" for i in range(n)],
            "patient_seq": profile * 1_000_000 + (rng.random(n) * pool[profile]).astype(int),
            "order_date": np.datetime64(end) - days.astype("timedelta64[D]"),
            "profile": profile,
            "dose_g": np.round(rng.gamma(4, np.array([p[3] for p in PROFILES])[profile] / 4) / 2.5) * 2.5 + 2.5,
        }))
    orders_frame = pl.concat(frames).with_columns(
        condition=pl.col("profile").replace_strict({i: p[0] for i, p in enumerate(PROFILES)}, return_dtype=pl.String),
        recommendation=pl.col("profile").replace_strict({i: p[1] for i, p in enumerate(PROFILES)}, return_dtype=pl.String),
        indication=pl.lit(None, dtype=pl.String)).drop("profile")
    con = db.connect(db_path)
    try:
        loaded = reference.load_reference()
        reference.write_reference(con, loaded)
        meta = loaded.rulesets["aan-2012-ivig-nmd"][1]["ruleset"]
        con.register("simulated", orders_frame)
        con.execute("CREATE OR REPLACE TABLE order_audit AS SELECT *, ? AS guideline_id, ? AS guideline_version "
                    "FROM simulated", [meta["id"], meta["version"]])
        suspected = {code: rng.uniform(0.2, 0.6) for code in codes}
        cidp = con.sql("""SELECT site, patient_seq, max(order_date) AS latest_course_date FROM order_audit
                              WHERE condition = 'cidp' GROUP BY ALL""").pl()
        cidp = cidp.with_columns(overuse_suspected=pl.Series(
            [rng.random() < suspected[site] for site in cidp["site"]], dtype=pl.Boolean))
        con.register("simulated_cidp", cidp)
        con.execute("CREATE OR REPLACE TABLE cidp_review AS SELECT * FROM simulated_cidp")
    finally:
        con.close()
    return codes
