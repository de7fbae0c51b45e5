"""Fixtures for the web UI's browser tests: a store filled by real tracking runs, a
real ``flowtrack ui`` process on a free loopback port over it, and Debian's chromium
driven by Playwright (``executable_path``; no browser download). Screenshots go to
``test-artifacts/ui-screenshots`` (printed at the end of the session)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.processes import free_port, listening

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "ui-screenshots"
XSS = "<script>alert(1)</script>"


def chromium_path() -> str:
    found = os.environ.get("FLOWTRACK_TEST_CHROMIUM") or shutil.which("chromium") \
        or shutil.which("chromium-browser")
    if not found:
        message = "No chromium on PATH: `make system` installs Debian's chromium."
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


# a GenAI trace as MLflow's client leaves it: spans over OTLP, then the trace's info
TRACES = f'''
import base64
from flowtrack.tracking.fluent.api import tracking_store
from flowtrack.tracking.service import TraceInfo, Traces
experiment = flowtrack.set_experiment("ui-traces").experiment_id
traces = Traces(tracking_store()[0])
b64 = lambda hex_digits: base64.b64encode(bytes.fromhex(hex_digits)).decode()
def span(span_id, parent, name, start_ms, end_ms, kind, inputs=None, error=False):
    attributes = [{{"key": "mlflow.spanType", "value": {{"string_value": kind}}}}]
    if inputs is not None:
        attributes.append({{"key": "mlflow.spanInputs", "value": {{"kvlist_value": {{"values": [
            {{"key": k, "value": {{"string_value": v}}}} for k, v in inputs.items()]}}}}}})
    found = {{"trace_id": b64("ab" * 16), "span_id": b64(span_id), "name": name,
              "start_time_unix_nano": start_ms * 10**6, "end_time_unix_nano": end_ms * 10**6,
              "attributes": attributes,
              "status": {{"code": "STATUS_CODE_ERROR" if error else "STATUS_CODE_OK"}}}}
    if parent:
        found["parent_span_id"] = b64(parent)
    return found
traces.log_spans(experiment, [
    span("01" * 8, None, "answer", 1_700_000_000_000, 1_700_000_000_400, "CHAIN", {{"q": "why"}}),
    span("02" * 8, "01" * 8, "retrieve", 1_700_000_000_010, 1_700_000_000_110, "RETRIEVER"),
    span("03" * 8, "01" * 8, {XSS!r}, 1_700_000_000_150, 1_700_000_000_390, "LLM", error=True)])
traces.start(TraceInfo("tr-" + "ab" * 16, experiment, 1_700_000_000_000, 400, "OK",
                       request_preview='{{"q": "why"}}', tags={{"mlflow.traceName": "answer"}}))
traces.create_assessment("tr-" + "ab" * 16, {{"assessment_name": "relevance",
                         "feedback": {{"value": 0.7}}, "rationale": {XSS!r}}})
'''


def fill_store(home: Path) -> None:
    """Tracking runs written through the public API in a subprocess (as a user would)."""
    script = f'''
import random
import flowtrack
flowtrack.set_tracking_uri({str(home)!r})
flowtrack.set_experiment("ui-demo")
random.seed(7)
for i in range(30):
    with flowtrack.start_run(run_name=f"run-{{i:02d}}", tags={{"team": "ml"}}):
        flowtrack.log_params({{"model": ["svm", "tree"][i % 2], "xss": {XSS!r}}})
        for step in range(50):
            flowtrack.log_metric("loss", 1.0 / (step + 1) + i / 1000, step=step)
        flowtrack.log_metric("acc", i / 30)
flowtrack.set_experiment({XSS!r})
with flowtrack.start_run(run_name={XSS!r}):
    flowtrack.log_param("p", 1)
flowtrack.set_experiment("ui-files")
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
with flowtrack.start_run(run_name="with-files"):
    flowtrack.log_text({XSS!r}, "notes/readme.txt")
    flowtrack.log_text("a,b\\n1,2\\n3,4\\n", "data/table.csv")
    flowtrack.log_dict({{"lr": 0.1}}, "config.json")
    flowtrack.log_text('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(2)</script></svg>',
                       "plots/evil.svg")
    figure, axes = plt.subplots()
    axes.plot([1, 2, 3])
    flowtrack.log_figure(figure, "plots/curve.png")
flowtrack.set_experiment("ui-models")
import flowtrack.sklearn
from sklearn.linear_model import LogisticRegression
for version in (1, 2):
    with flowtrack.start_run(run_name=f"train-{{version}}") as run:
        flowtrack.sklearn.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]),
                                    name="model")
    flowtrack.register_model(f"runs:/{{run.info.run_id}}/model", "ui-model")
flowtrack.TrackingClient().set_registered_model_alias("ui-model", "champion", 1)
{TRACES}
'''
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120,
                   env={k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")})


FLOW = """
import flowtrack
from flowtrack import FlowSpec, step


class FanFlow(FlowSpec):
    \"\"\"Fan out and in.\"\"\"

    @step
    def start(self):
        \"\"\"Make the items.\"\"\"
        self.items = list(range(4))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import pandas as pd
        self.value = self.input ** 2
        self.frame = pd.DataFrame({"x": [self.input, 1], "name": ["<i>a</i>", "b"]})
        figure, axes = plt.subplots()
        axes.plot([0, self.input])
        self.figure = figure
        print("squared", self.input, "<b>bold</b>")
        flowtrack.log_metric("value", self.value, step=self.input)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    FanFlow()
"""


PREDICT_FLOW = """
from flowtrack import Flow, FlowSpec, step


class PredictFlow(FlowSpec):
    @step
    def start(self):
        self.doubled = Flow("FanFlow").latest_run.data.total * 2
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PredictFlow()
"""


def run_flows(home: Path) -> None:
    """FanFlow, then PredictFlow reading FanFlow's result (lineage across flows)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env["FLOWTRACK_HOME"] = str(home)
    for name, text in (("fan_flow.py", FLOW), ("predict_flow.py", PREDICT_FLOW)):
        (home / name).write_text(text)
        subprocess.run([sys.executable, str(home / name), "run"], check=True, timeout=120,
                       env=env, cwd=home, capture_output=True)


@pytest.fixture(scope="session")
def ui_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("ui-store")
    fill_store(home)
    run_flows(home)
    return home


@pytest.fixture(scope="session")
def ui_url(ui_home: Path) -> Iterator[str]:
    home = ui_home
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env["FLOWTRACK_HOME"] = str(home)
    with listening([sys.executable, "-m", "flowtrack", "ui", "--port", str(port)], port, env,
                   home / "ui.log"):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path(), headless=True)
        yield launched
        launched.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say where the screenshots of the UI's pages went (whenever tests wrote some)."""
    if SCREENSHOTS.is_dir() and any(SCREENSHOTS.iterdir()):
        terminalreporter.write_line(f"UI screenshots: {SCREENSHOTS}")


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    dialogs: list[str] = []
    opened.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    opened.dialogs = dialogs
    yield opened
    context.close()


def screenshot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
