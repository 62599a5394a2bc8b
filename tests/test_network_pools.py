"""The network audit on real Prefect work pools, as prefect.yaml declares it: one Prefect server, a
process worker per site on that site's pool (each in its own folder, with its own extracts and
pseudonymisation key) and one on the network's pool. The region's deployment runs both sites'
deployments, each on its own pool (and goes on without a third that does not exist), then merges
their bundles; nothing in the bundles, the network's outputs or Prefect's logs and database names
a patient. The work pools are made through the API as `prefect work-pool create --type process`
makes them, so the deployment and the workers can start together. One to two and a half minutes, most of it Prefect starting
processes and each site's audit importing Great Expectations (docs/performance.md)."""
import hashlib
import hmac
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
from prefect.workers.process import ProcessWorker

from pipelines.network_demo import write_site_extracts
from pipelines.serve import prefect_api
from tests.conftest import order_row, write_orders_csv
from tests.privacy_scan import leaks, text_of
from tests.test_serve import api, wait_for

REPO = Path(__file__).parent.parent
PREFECT = str(Path(sys.executable).parent / "prefect")
# site -> its work pool, orders, seed and pseudonymisation key
SITES = {"SITE_A": ("ivig-site-a", 400, 21, "site-a-secret-key-" + "a" * 32),
         "SITE_B": ("ivig-site-b", 250, 22, "site-b-secret-key-" + "b" * 32)}
FREE_TEXT = "IVIG per Dr Zebedee Quux ward note 7731"


def test_the_region_runs_each_site_on_its_own_pool_and_merges_their_bundles(tmp_path, prefect_server):
    drop, network_home = tmp_path / "drop", tmp_path / "network"
    drop.mkdir()
    network_home.mkdir()
    (network_home / "bundles").symlink_to(drop)
    patient_ids = set()
    for site, (_, n_orders, seed, _) in SITES.items():
        home = tmp_path / site
        files = write_site_extracts(site, n_orders, home / "inbox", seed)
        write_orders_csv(home / "inbox" / "typed.csv", [order_row(f"{site}-T1", site=site, patient_id=f"{site}-MRN-77",
                                                                  indication=FREE_TEXT, prescriber_id="PRESC-9931")])
        (home / "bundles").symlink_to(drop)
        patient_ids |= set(pl.read_csv(files.orders, infer_schema_length=0)["patient_id"]) | {f"{site}-MRN-77"}

    base = {k: v for k, v in os.environ.items() if k not in ("IVIG_AUDIT_PSEUDONYM_KEY", "IVIG_SITE_HOME",
                                                                "IVIG_NETWORK_HOME")}
    workers = []
    with prefect_api(one_off=True):
        url = os.environ["PREFECT_API_URL"]
        env = {**base, "PREFECT_API_URL": url, "PREFECT_WORKER_QUERY_SECONDS": "1"}
        try:
            template = ProcessWorker.get_default_base_job_template()
            for pool in ("ivig-site-a", "ivig-site-b", "ivig-network"):  # as `prefect work-pool create` does
                api(url, "POST", "/work_pools/", name=pool, type="process", base_job_template=template)
            deploying = subprocess.Popen([PREFECT, "--no-prompt", "deploy", "--name", "site-a", "--name", "site-b",
                                          "--name", "region"], cwd=REPO, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
            for site, (pool, _, _, key) in SITES.items():
                workers.append(_worker(pool, {**env, "IVIG_SITE_HOME": str(tmp_path / site),
                                              "IVIG_AUDIT_PSEUDONYM_KEY": key}, tmp_path))
            workers.append(_worker("ivig-network", {**env, "IVIG_NETWORK_HOME": str(network_home)}, tmp_path))
            output, _ = deploying.communicate(timeout=180)
            assert deploying.returncode == 0, output

            region = api(url, "GET", "/deployments/name/ivig-audit-network/region")
            # as deployed, plus a site whose deployment does not exist: the region goes on without it
            parameters = region["parameters"] | {
                "expected_sites": [*region["parameters"]["expected_sites"], "SITE_Z"],
                "site_deployments": [*region["parameters"]["site_deployments"], "ivig-audit-site/site-z"]}
            run = api(url, "POST", f"/deployments/{region['id']}/create_flow_run", parameters=parameters)
            finished = wait_for(lambda: (r := api(url, "GET", f"/flow_runs/{run['id']}"))["state_type"]
                                in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") and r, 240, "the region's run")
            assert finished["state_type"] == "COMPLETED", finished["state"]
            site_runs = [r for r in api(url, "POST", "/flow_runs/filter",
                                        flow_runs={"parent_flow_run_id": {"operator": "and_", "any_": [run["id"]]}})]
            assert {(r["name"].split()[-1], r["work_pool_name"], r["state_type"]) for r in site_runs} == {
                ("SITE_A", "ivig-site-a", "COMPLETED"), ("SITE_B", "ivig-site-b", "COMPLETED")}
            logged = [log["message"] for log in api(url, "POST", "/logs/filter",
                                                    logs={"flow_run_id": {"any_": [run["id"]]}})]
            assert "site deployment ivig-audit-site/site-z: NOT FOUND" in logged
        finally:
            for worker in workers:
                os.killpg(worker.pid, signal.SIGTERM)
            for worker in workers:
                worker.wait(timeout=60)

    network = duckdb.connect(str(network_home / "out" / "network" / "network.duckdb"), read_only=True)
    assert network.execute("SELECT site, status FROM network_sites ORDER BY site").fetchall() == [
        ("SITE_A", "current"), ("SITE_B", "current"), ("SITE_Z", "missing")]
    merged = dict(network.execute("SELECT site, orders FROM network_totals").fetchall())
    network.close()
    patient_keys = set()
    for site, (_, _, _, key) in SITES.items():
        con = duckdb.connect(str(tmp_path / site / "out" / "ivig_audit.duckdb"), read_only=True)
        period = network_period(network_home, site)
        assert merged[site] == con.execute("SELECT count(*) FROM orders WHERE order_date BETWEEN ? AND ?",
                                           period).fetchall()[0][0]
        expected_key = hmac.new(key.encode(), f"{site}\x1f{site}-MRN-77".encode(), hashlib.sha256).hexdigest()
        assert con.execute("SELECT patient_key FROM orders WHERE order_id = ?", [f"{site}-T1"]).fetchall() == [
            (expected_key,)]
        patient_keys |= {k for (k,) in con.execute("SELECT patient_key FROM orders").fetchall()}
        con.close()
    assert merged["SITE_A"] != merged["SITE_B"]
    assert (network_home / "out" / "network" / "network_dashboard.html").stat().st_size > 4_000_000

    forbidden = patient_ids | patient_keys | {k[:10] for k in patient_keys} | {FREE_TEXT, "Zebedee", "PRESC-9931"} \
        | {key for (_, _, _, key) in SITES.values()}
    # the bundles, the network's outputs, the workers' logs and the Prefect server's database and log
    logs = tmp_path / "logs"
    logs.mkdir()
    for log in tmp_path.glob("worker-*.log"):
        log.rename(logs / log.name)
    prefect_home = Path(os.environ["PREFECT_HOME"])
    assert any("ivig-audit-network" in text_of(p) for p in prefect_home.rglob("prefect.db*"))  # the server's, scanned
    assert leaks([drop, network_home / "out", logs, prefect_home], forbidden) == {}


def network_period(network_home: Path, site: str) -> list:
    con = duckdb.connect(str(network_home / "out" / "network" / "network.duckdb"), read_only=True)
    try:
        return list(con.execute("SELECT period_start, period_end FROM network_sites WHERE site = ?", [site]).fetchall()[0])
    finally:
        con.close()


def _worker(pool: str, env: dict, cwd: Path) -> subprocess.Popen:
    log = (cwd / f"worker-{pool}.log").open("wb")
    return subprocess.Popen([PREFECT, "worker", "start", "--pool", pool, "--type", "process"], env=env, cwd=cwd,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

