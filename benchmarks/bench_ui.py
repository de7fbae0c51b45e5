"""Web UI: how fast ``flowtrack ui`` answers and how fast its pages are usable in
headless Chromium (Debian's, through Playwright), on a store holding

* an experiment of ``--runs`` tracking runs (default 10 000, 3 params and 2 metrics
  each): the run table's first page from the server (sorted by a metric), and the
  experiment page until its rows are drawn;
* a ``--width``-way foreach flow run (default 1000): its run page (DAG, timeline,
  task table) until every task row is drawn;
* a run with a ``--points``-point metric (default 1 000 000): the downsampled series
  from the server, and its chart drawn.

Targets: the table's server answer <= 300 ms and the page interactive <= 1.5 s;
the 1000-task run page <= 1.5 s; the 1M-point chart <= 1 s.

    python benchmarks/bench_ui.py [--runs N] [--width N] [--points N] [--json out.json]
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import _common as c

FILL = r'''
import sys, time
import flowtrack
from flowtrack.tracking import Metric, TrackingClient
home, runs, points = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
flowtrack.set_tracking_uri(home)
client = TrackingClient(home)
experiment = client.create_experiment("table")
for i in range(runs):
    run = client.create_run(experiment, run_name=f"run-{i}")
    client.log_batch(run.info.run_id, metrics=[Metric("acc", (i % 997) / 997, 0, 0),
                                               Metric("loss", 1 - (i % 997) / 997, 0, 0)])
    client.log_param(run.info.run_id, "model", ["svm", "tree", "knn"][i % 3])
    client.log_param(run.info.run_id, "seed", i)
    client.log_param(run.info.run_id, "C", i % 10)
    client.set_terminated(run.info.run_id)
flowtrack.set_experiment("long-history")
with flowtrack.start_run() as run:
    for step in range(points):
        flowtrack.log_metric("loss", 1.0 / (step + 1), step=step)
print(run.info.run_id)
'''

FLOW = '''
from flowtrack import FlowSpec, step


class WideFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(WIDTH))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.out for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WideFlow()
'''


def run(cmd: list[str], env: dict[str, str], cwd: Path, timeout: float) -> str:
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    if done.returncode != 0:
        raise c.BenchmarkError(f"{cmd[1]} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def timed_get(url: str, repeat: int = 5) -> float:
    import httpx

    times = []
    with httpx.Client(timeout=60) as client:
        client.get(url).raise_for_status()  # warm caches once
        for _ in range(repeat):
            start = time.perf_counter()
            client.get(url).raise_for_status()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def page_ready(browser: object, url: str, ready: str) -> float:
    """Seconds from navigation start until the JavaScript condition ``ready`` holds."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    try:
        page.goto(url, wait_until="commit")
        page.wait_for_function(ready, timeout=60_000, polling="raf")
        return float(page.evaluate("performance.now()")) / 1000
    finally:
        page.close()


def main() -> None:
    parser = c.make_parser(__doc__.splitlines()[0], repeat=3)
    parser.add_argument("--runs", type=c.positive_int, default=10_000)
    parser.add_argument("--width", type=c.positive_int, default=1000)
    parser.add_argument("--points", type=c.positive_int, default=1_000_000)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise c.BenchmarkError("No chromium on PATH (make system installs Debian's).")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        home = Path(tmp) / "store"
        env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
        env.update(FLOWTRACK_HOME=str(home), PYTHONWARNINGS="ignore")
        (Path(tmp) / "fill.py").write_text(FILL)
        history_run = run([args.python, "fill.py", str(home), str(args.runs), str(args.points)],
                          env, Path(tmp), args.timeout).strip().splitlines()[-1]
        (Path(tmp) / "wide_flow.py").write_text(FLOW.replace("WIDTH", str(args.width)))
        run([args.python, "wide_flow.py", "run", "--max-num-splits", str(args.width + 1)],
            env, Path(tmp), args.timeout)
        port = c.free_port()
        with c.serving([args.python, "-m", "flowtrack", "ui", "--port", str(port)], port, env,
                       Path(tmp) / "ui.log") as url:
            results = measure(url, history_run, args, chromium, sync_playwright)
    report(results, args)


def measure(url: str, history_run: str, args: object, chromium: str,
            sync_playwright: object) -> dict[str, float]:
    import httpx

    experiments = httpx.get(f"{url}/ui-api/experiments").json()
    ids = {e["name"]: e["experiment_id"] for e in experiments}
    table = f"{url}/ui-api/experiments/{ids['table']}/runs?max_results=100"
    wide = httpx.get(f"{url}/ui-api/experiments/{ids['WideFlow']}/runs").json()
    wide_run = wide["runs"][0]["run_id"]
    found = {
        "table_server_s": timed_get(table + "&order_by=metrics.acc%20DESC"),
        "table_filter_s": timed_get(table + "&filter=metrics.acc%20%3E%200.5%20and%20"
                                    "params.model%20%3D%20%27svm%27&order_by=metrics.acc%20DESC"),
        "series_server_s": timed_get(f"{url}/ui-api/runs/{history_run}/metrics/loss"),
    }
    repeat = int(getattr(args, "repeat", 3))
    with sync_playwright() as playwright:  # type: ignore[operator]
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        found["table_page_s"] = statistics.median(page_ready(
            browser, f"{url}/experiments/{ids['table']}",
            "document.querySelectorAll('#runs tbody tr').length === 100") for _ in range(repeat))
        width = int(getattr(args, "width", 1000))
        found["flow_page_s"] = statistics.median(page_ready(
            browser, f"{url}/runs/{wide_run}",
            f"document.querySelectorAll('#tasks tbody tr').length === {width + 3} && "
            "document.readyState === 'complete'") for _ in range(repeat))
        found["chart_page_s"] = statistics.median(page_ready(
            browser, f"{url}/runs/{history_run}",
            "document.querySelector('.chart.drawn[data-points]') !== null")
            for _ in range(repeat))
        browser.close()
    return found


def report(r: dict[str, float], args: object) -> None:
    runs, width, points = (getattr(args, n) for n in ("runs", "width", "points"))
    c.print_table("web UI (server answers: median of 5; pages: median, from navigation start)",
                  ("what", "time"), [
                      (f"run table, first 100 of {runs:,} runs by metric (server)",
                       c.fmt_seconds(r["table_server_s"])),
                      ("  ... with a filter (server)", c.fmt_seconds(r["table_filter_s"])),
                      ("  ... experiment page until its rows are drawn",
                       c.fmt_seconds(r["table_page_s"])),
                      (f"run page of a {width}-task foreach until every task row is drawn",
                       c.fmt_seconds(r["flow_page_s"])),
                      (f"{points:,}-point series, downsampled (server)",
                       c.fmt_seconds(r["series_server_s"])),
                      ("  ... run page until its chart is drawn", c.fmt_seconds(r["chart_page_s"]))])
    c.report("bench_ui", [
        c.Result(f"run table over {runs:,} runs, server", r["table_server_s"], "s", 0.3),
        c.Result(f"run table over {runs:,} runs, page interactive", r["table_page_s"], "s", 1.5),
        c.Result(f"run page of a {width}-task foreach", r["flow_page_s"], "s", 1.5),
        c.Result(f"{points:,}-point metric chart drawn", r["chart_page_s"], "s", 1.0),
    ], getattr(args, "json", None))
    print(json.dumps(r))


if __name__ == "__main__":
    c.main_wrapper(main)
