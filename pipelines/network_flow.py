"""The network audit as Prefect flows. `ivig-audit-site` runs on a site's own work pool: the site's
audit, then its bundle into the drop folder. `ivig-audit-network` runs on the network's pool: it can
start the sites' deployments first and wait for them, then collects the latest bundle of every
site, merges them into the network database and publishes the network dashboard.
Import pipelines.prefect_env.configure() first: this module imports prefect."""
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from uuid import UUID

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from pipelines import bundle, db, network

SITE_POLL_SECONDS = 2


@dataclass
class NetworkSummary:
    db_path: Path
    dashboard: Path
    sites: list[tuple[str, str, date | None]]  # site, status, period end
    refusals: list[str] = field(default_factory=list)
    site_runs: dict[str, str] = field(default_factory=dict)  # deployment -> final state

    def lines(self) -> list[str]:
        """What the command line prints (refusals go to stderr on their own)."""
        return ([f"Site deployment {name}: {state}" for name, state in self.site_runs.items()]
                + [f"{site}: {status}" + (f" (period to {end})" if end else "") for site, status, end in self.sites]
                + [f"Network database: {self.db_path}", f"Network dashboard: {self.dashboard}"])


@task(cache_policy=NO_CACHE)
def write_site_bundle(db_path: Path, bundle_dir: Path, site: str, until: date | None, months: int,
                      allow_free_text: bool) -> Path:
    folder = bundle.write_bundle(db_path, bundle_dir, site, until, months, allow_free_text)
    get_run_logger().info("bundle written: %s", folder)
    return folder


@flow(name="ivig-audit-site", flow_run_name="site {site}")
def site_run(site: str, inbox: Path = Path("inbox"), db_path: Path = Path("out/ivig_audit.duckdb"),
             out_dir: Path = Path("out"), bundle_dir: Path = Path("bundles"), months: int = 12,
             until: date | None = None, allow_free_text: bool = False, guideline: str | None = None,
             profile_path: Path | None = None) -> Path:
    """The site's audit run over its inbox, then its bundle (the `months` up to `until`, default
    its latest order) into bundle_dir/<site>/. Relative paths are from the working directory, which
    a deployment sets to the site's folder ($IVIG_SITE_HOME, prefect.yaml)."""
    from pipelines.flow import audit_run  # Great Expectations loads only where a site's audit runs
    audit_run(inbox=inbox, db_path=db_path, out_dir=out_dir, guideline=guideline, profile_path=profile_path,
              site=site)
    return write_site_bundle(db_path, bundle_dir, site, until, months, allow_free_text)


@task(cache_policy=NO_CACHE, task_run_name="start {name}")
def start_site_deployment(name: str) -> UUID | None:
    """A flow run of the site's deployment, for that site's work pool (None: no such deployment)."""
    from prefect.deployments import run_deployment
    from prefect.exceptions import ObjectNotFound
    try:
        return run_deployment(name, timeout=0).id
    except ObjectNotFound:
        return None


@task(cache_policy=NO_CACHE)
def wait_for_sites(started: dict[str, UUID | None], timeout_seconds: float) -> dict[str, str]:
    """Wait until every site's run has finished or the timeout passes; a site that fails or does
    not answer keeps its last bundle, which the network then shows as stale or missing."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    runs = {run_id: name for name, run_id in started.items() if run_id}
    deadline = time.monotonic() + timeout_seconds
    with get_client(sync_client=True) as client:
        while True:  # one query for all the sites' runs
            states = {runs[run.id]: run.state for run in client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=list(runs))), limit=len(runs))}
            if all(state.is_final() for state in states.values()) or time.monotonic() > deadline:
                break
            time.sleep(SITE_POLL_SECONDS)
    outcome = {name: states[name].type.value if run_id else "NOT FOUND" for name, run_id in started.items()}
    logger = get_run_logger()
    for name, state in outcome.items():
        (logger.info if state == "COMPLETED" else logger.warning)("site deployment %s: %s", name, state)
    return outcome


@task(cache_policy=NO_CACHE)
def collect_bundles(bundle_dir: Path, expected_sites: list[str]) -> list[network.BundleSeen]:
    seen = network.collect(bundle_dir, expected_sites)
    logger = get_run_logger()
    for refused in (b for b in seen if b.status == "refused"):
        logger.warning(refused.refusal())
    return seen


@task(cache_policy=NO_CACHE)
def build_network_database(con, seen: list[network.BundleSeen], expected_sites: list[str],
                           stale_after_days: int) -> None:
    con.execute("BEGIN TRANSACTION")
    network.build_database(con, seen, expected_sites, stale_after_days)
    con.execute("COMMIT")


@task(cache_policy=NO_CACHE)
def publish_network_dashboard(con, out_dir: Path) -> Path:
    from dashboards import network_page
    return network_page.publish(con, out_dir)


@flow(name="ivig-audit-network", flow_run_name="network {bundle_dir}")
def network_run(bundle_dir: Path = Path("bundles"), out_dir: Path = Path("out/network"),
                expected_sites: list[str] | None = None, stale_after_days: int = 45,
                site_deployments: list[str] | None = None, site_timeout_seconds: float = 3600) -> NetworkSummary:
    """Optionally run the sites' deployments first; then collect the latest bundle of every site
    in bundle_dir, merge them into <out_dir>/network.duckdb and publish
    <out_dir>/network_dashboard.html. A refused bundle is logged with its reason and the run goes on."""
    expected_sites = expected_sites or []
    site_runs = {}
    if site_deployments:  # started together, each its own task (Prefect's thread pool)
        started = start_site_deployment.map(site_deployments)
        site_runs = wait_for_sites(dict(zip(site_deployments, started.result())), site_timeout_seconds)
    seen = collect_bundles(bundle_dir, expected_sites)
    db_path = out_dir / "network.duckdb"
    with db.building(db_path) as work_path:
        con = db.connect(work_path)
        try:
            build_network_database(con, seen, expected_sites, stale_after_days)
            dashboard = publish_network_dashboard(con, out_dir)
            sites = con.execute("SELECT site, status, period_end FROM network_sites ORDER BY site").fetchall()
        finally:
            con.close()
    return NetworkSummary(db_path, dashboard, sites, [b.refusal() for b in seen if b.status == "refused"], site_runs)
