"""The web UI in a real browser (Debian's chromium through Playwright) against a real
``flowtrack ui`` over tracking runs and a flow run: home, the run table (sort,
filter, inline errors, columns, CSV export), the run page with its metric charts
drawn, a flow run's DAG, timeline and tasks, a task's values and logs, and escaping
of every user-supplied string. Without a browser: client errors for bad addresses,
ids and bodies, and a clean answer for a task whose blobs are damaged."""

from __future__ import annotations

from pathlib import Path

from tests.ui.conftest import XSS, screenshot


def open_experiment(page, ui_url, name="ui-demo"):
    page.goto(ui_url + "/")
    page.get_by_role("link", name=name, exact=True).click()
    page.wait_for_selector("#runs tbody tr")


def column_values(page, column: str) -> list[str]:
    index = page.locator("#runs thead th").all_inner_texts().index(column)
    return [row.locator("td").nth(index).inner_text()
            for row in page.locator("#runs tbody tr").all()]


def test_home_lists_experiments_with_counts_and_search(page, ui_url):
    page.goto(ui_url + "/")
    row = page.locator("#experiments tbody tr", has_text="ui-demo")
    assert row.locator("td").nth(2).inner_text() == "30"
    assert "FINISHED" in row.inner_text()
    page.fill("#experiment-search", "ui-de")
    assert page.locator("#experiments tbody tr:visible").count() == 1
    page.fill("#experiment-search", "")
    screenshot(page, "01-home")


def test_run_table_sorts_filters_and_chooses_columns(page, ui_url):
    open_experiment(page, ui_url)
    assert page.locator("#runs tbody tr").count() == 30
    headers = page.locator("#runs thead th").all_inner_texts()
    assert {"Run", "Status", "params.model", "metrics.acc", "metrics.loss", "tags.team"} <= \
        set(headers)
    page.locator("#runs thead th", has_text="metrics.acc").click()
    page.wait_for_selector("#runs thead th.sorted-desc")
    values = [float(v) for v in column_values(page, "metrics.acc")]
    assert values == sorted(values, reverse=True) and values[0] == 29 / 30
    page.locator("#runs thead th", has_text="Duration").click()
    page.wait_for_selector('#runs thead th.sorted-desc[data-column="duration_ms"]')
    page.locator("#runs thead th", has_text="metrics.acc").click()
    page.wait_for_selector('#runs thead th.sorted-desc[data-column="metrics.acc"]')
    page.fill("#filter", "metrics.acc > 0.5 and params.model = 'svm'")
    page.press("#filter", "Enter")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length === 7")
    assert set(column_values(page, "params.model")) == {"svm"}
    page.locator("#choose-columns").click()
    page.locator('#column-chooser input[data-column="tags.team"]').uncheck()
    assert "tags.team" not in page.locator("#runs thead th").all_inner_texts()
    screenshot(page, "02-run-table")


def test_a_bad_filter_is_reported_inline(page, ui_url):
    open_experiment(page, ui_url)
    page.fill("#filter", "metrics.acc >")
    page.press("#filter", "Enter")
    error = page.locator("#filter-error")
    error.wait_for(state="visible")
    assert "position 13" in error.inner_text()
    assert page.locator("#runs tbody tr").count() == 30  # the table stays as it was
    screenshot(page, "03-filter-error")


def test_csv_export_holds_every_run(page, ui_url):
    open_experiment(page, ui_url)
    with page.expect_download() as download:
        page.locator("#export").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 31 and lines[0].startswith("run_name,status")


def test_run_page_draws_metric_charts(page, ui_url):
    open_experiment(page, ui_url)
    page.get_by_role("link", name="run-29").click()
    page.wait_for_selector('.chart.drawn[data-metric="loss"][data-points="50"] canvas')
    assert page.locator("#params").inner_text().count("svm") + \
        page.locator("#params").inner_text().count("tree") == 1
    page.check("#log-scale")
    page.wait_for_selector('.chart[data-metric="loss"][data-scale="log"]')
    chart = page.locator('.chart[data-metric="loss"] canvas')
    box = chart.bounding_box()
    chart.hover(position={"x": box["width"] / 2, "y": box["height"] / 2})
    assert "loss:" in page.locator('.chart[data-metric="loss"] .chart-tip').inner_text()
    page.mouse.move(box["x"] + 80, box["y"] + 100)
    page.mouse.down()
    page.mouse.move(box["x"] + 200, box["y"] + 100)
    page.mouse.up()  # a drag zooms in: fewer steps on screen
    assert page.locator('.chart[data-metric="loss"]').evaluate(
        "c => c._chart.zoom !== null")
    chart.dblclick()
    assert page.locator('.chart[data-metric="loss"]').evaluate("c => c._chart.zoom === null")
    screenshot(page, "04-run")


def test_user_strings_render_as_text(page, ui_url):
    page.goto(ui_url + "/")
    assert page.locator("#experiments a", has_text=XSS).count() == 1
    page.locator("#experiments a", has_text=XSS).click()
    page.wait_for_selector("#runs tbody tr")
    assert page.locator("#runs tbody a", has_text=XSS).count() == 1
    page.locator("#runs tbody a", has_text=XSS).click()
    page.wait_for_selector("#params")
    assert XSS in page.locator("h1").inner_text()
    open_experiment(page, ui_url)
    assert XSS in column_values(page, "params.xss")
    assert page.dialogs == []  # no script ran
    assert page.locator("script:not([src])").count() == 0
    screenshot(page, "05-escaping")


def open_flow_run(page, ui_url):
    open_experiment(page, ui_url, "FanFlow")
    page.locator("#runs tbody a").first.click()
    page.wait_for_load_state("load")


def test_flow_run_page_shows_the_dag_timeline_and_tasks(page, ui_url):
    open_flow_run(page, ui_url)
    steps = page.locator("#dag .step")
    assert [s.get_attribute("data-step") for s in steps.all()] == \
        ["start", "square", "join", "end"]
    assert page.locator("#dag .step.completed").count() == 4
    assert "4 tasks" in page.locator('#dag .step[data-step="square"]').text_content()
    assert page.locator("#dag line.edge").count() == 3
    assert page.locator("#timeline .bar").count() == 7
    page.locator('#dag .step[data-step="square"]').click()
    assert page.locator("#tasks tbody tr:visible").count() == 4
    page.wait_for_selector('.chart.drawn[data-metric="value"][data-points="4"]')
    screenshot(page, "06-flow-run")


def test_task_page_shows_values_and_logs_as_text(page, ui_url):
    open_flow_run(page, ui_url)
    page.locator("#tasks a", has_text="start/").click()
    page.wait_for_selector("#values")
    row = page.locator("#values tbody tr", has_text="items")
    assert "list" in row.inner_text() and "[0, 1, 2, 3]" in row.inner_text()
    page.go_back()
    page.wait_for_load_state("load")
    page.locator("#tasks a", has_text="square/").first.click()
    page.wait_for_selector("#stdout")
    frame = page.locator('#values tr[data-value="frame"]')
    assert "2 × 2" in frame.inner_text()
    assert frame.locator("table th").all_inner_texts() == ["x", "name"]
    assert "<i>a</i>" in frame.locator("table").inner_text()  # as text, not markup
    page.wait_for_function(
        "document.querySelector('#values tr[data-value=\"figure\"] img')?.naturalWidth > 0")
    assert "<b>bold</b>" in page.locator("#stdout").inner_text()
    assert page.locator("#stdout b").count() == 0
    screenshot(page, "07-task")


def test_compare_runs_side_by_side(page, ui_url):
    open_experiment(page, ui_url)
    for row in page.locator("#runs tbody tr").all()[:3]:
        row.locator("input[type=checkbox]").check()
    assert page.locator("#compare").inner_text() == "Compare selected (3)"
    page.locator("#compare").click()
    page.wait_for_selector("#comparison")
    assert page.locator("#comparison thead th").count() == 4
    page.wait_for_selector('#overlays .chart.drawn[data-metric="loss"][data-series="3"]')
    page.wait_for_selector('#scatter.drawn[data-points="3"]')
    assert page.locator('#comparison tr[data-key="xss"]').is_visible()
    page.check("#differences-only")
    assert not page.locator('#comparison tr[data-key="xss"]').is_visible()  # equal everywhere
    assert page.locator('#comparison tr[data-key="acc"]').is_visible()
    screenshot(page, "08-compare")


def test_models_versions_and_setting_an_alias(page, ui_url):
    page.goto(ui_url + "/models")
    row = page.locator("#models tbody tr", has_text="ui-model")
    assert "@champion → 1" in row.inner_text() and row.locator("td").nth(1).inner_text() == "2"
    row.locator("a").click()
    page.wait_for_load_state("load")
    assert [r.get_attribute("data-version") for r in page.locator("#versions tbody tr").all()] \
        == ["2", "1"]
    page.fill("#alias", "staging")
    page.select_option("#alias-version", "2")
    page.locator("#alias-form button").click()
    page.wait_for_selector('#versions tr[data-version="2"] .alias')
    assert "@staging" in page.locator('#versions tr[data-version="2"]').inner_text()
    page.fill("#alias", "bad alias!")
    page.locator("#alias-form button").click()
    page.locator("#alias-error").wait_for(state="visible")
    assert "Invalid alias" in page.locator("#alias-error").inner_text()
    page.locator('#versions tr[data-version="1"] a[href^="/runs/"]').click()
    page.wait_for_selector("#run")
    screenshot(page, "09-models")


def test_lineage_crosses_flows_and_expands_a_hop_at_a_time(page, ui_url):
    open_experiment(page, ui_url, "PredictFlow")
    page.locator("#runs tbody a").first.click()
    page.wait_for_load_state("load")
    page.locator("#tasks a", has_text="start/").click()
    page.wait_for_load_state("load")
    page.locator("#task-lineage").click()
    page.wait_for_selector("#lineage")
    near = page.locator("#lineage .node").count()
    assert "doubled" in page.locator("#lineage").text_content()
    assert "total" in page.locator("#lineage").text_content()  # read from FanFlow's run
    page.locator("#more-hops").click()
    page.wait_for_load_state("load")
    page.locator("#more-hops").click()
    page.wait_for_load_state("load")
    text = page.locator("#lineage").text_content()
    assert page.locator("#lineage .node").count() > near
    assert "FanFlow" in text and "value" in text  # upstream, inside the other flow
    screenshot(page, "10-lineage")
    page.locator("#lineage a.node.execution", has_text="join").first.click()
    page.wait_for_selector("#values")


def test_a_model_versions_lineage_leads_to_its_run(page, ui_url):
    page.goto(ui_url + "/models/ui-model")
    page.locator('#versions tr[data-version="1"] a.version-lineage').click()
    page.wait_for_selector("#lineage")
    assert page.locator("#lineage .node.start").count() == 1
    assert "RunExecution" in page.locator("#lineage").text_content()


def test_file_browser_previews_and_downloads(page, ui_url):
    open_experiment(page, ui_url, "ui-files")
    page.get_by_role("link", name="with-files").click()
    page.wait_for_selector('#file-tree a[data-path="notes"]')
    page.locator('#file-tree a[data-path="notes"]').click()
    page.locator('#file-tree a[data-path="notes/readme.txt"]').click()
    page.wait_for_selector("#file-preview pre")
    assert page.locator("#file-preview pre").inner_text() == XSS
    page.locator('#file-tree a[data-path="data"]').click()
    page.locator('#file-tree a[data-path="data/table.csv"]').click()
    page.wait_for_selector("#file-preview table")
    assert page.locator("#file-preview th").all_inner_texts() == ["a", "b"]
    assert page.locator("#file-preview td").all_inner_texts() == ["1", "2", "3", "4"]
    page.locator('#file-tree a[data-path="plots"]').click()
    page.locator('#file-tree a[data-path="plots/curve.png"]').click()
    page.wait_for_function(
        "document.querySelector('#file-preview img')?.naturalWidth > 0")
    screenshot(page, "11-files")
    page.locator('#file-tree a[data-path="plots/evil.svg"]').click()
    page.wait_for_selector("#file-preview pre")
    assert "<script>" in page.locator("#file-preview pre").inner_text()
    with page.expect_download() as download:
        page.locator("#file-download").click()
    assert "alert(2)" in Path(download.value.path()).read_text()
    assert page.dialogs == []


def test_downloads_never_render_as_pages_of_the_site(page, ui_url):
    import httpx

    open_experiment(page, ui_url, "ui-files")
    run_id = page.locator("#runs tbody tr").first.get_attribute("data-run")
    answer = httpx.get(f"{ui_url}/files/{run_id}/plots/evil.svg?inline=1")
    assert answer.headers["content-disposition"].startswith("attachment")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in answer.headers["content-security-policy"]
    for bad in ("../../etc/passwd", "%2e%2e/%2e%2e/etc/passwd", "/etc/passwd"):
        response = httpx.get(f"{ui_url}/files/{run_id}/{bad}")
        assert response.status_code in (400, 404) and b"root:" not in response.content


SLOW_FLOW = """
import time
from flowtrack import FlowSpec, step


class SlowFlow(FlowSpec):
    @step
    def start(self):
        time.sleep(4)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SlowFlow()
"""


def test_a_running_flows_page_updates_itself(page, ui_url, ui_home):
    import os
    import subprocess
    import sys

    (ui_home / "slow_flow.py").write_text(SLOW_FLOW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env["FLOWTRACK_HOME"] = str(ui_home)
    flow = subprocess.Popen([sys.executable, str(ui_home / "slow_flow.py"), "run"], env=env,
                            cwd=ui_home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(60):  # until the flow has recorded its run
            page.goto(ui_url + "/")
            if page.locator("#experiments a", has_text="SlowFlow").count():
                break
            page.wait_for_timeout(250)
        page.locator("#experiments a", has_text="SlowFlow").click()
        page.wait_for_selector("#runs tbody a")
        page.locator("#runs tbody a").first.click()
        page.wait_for_selector('#flow[data-live="yes"]')
        assert page.locator('#tasks tbody tr[data-step="end"]').count() == 0
        # no reload by hand: the page polls and reloads itself as tasks finish
        page.wait_for_selector('#tasks tbody tr[data-step="end"]', timeout=30_000)
        assert flow.wait(timeout=60) == 0
    finally:
        if flow.poll() is None:
            flow.kill()
            flow.wait()


def test_bad_page_addresses_answer_client_errors(ui_url):
    import httpx

    for path, status in (("/tasks/not-a-number", 400), ("/tasks/999999", 404),
                         ("/runs/" + "0" * 32, 404), ("/experiments/999999", 404),
                         ("/models/no-such-model", 404), ("/compare?runs=a", 200),
                         ("/lineage", 400), ("/static/../pyproject.toml", 404)):
        answer = httpx.get(ui_url + path)
        assert answer.status_code == status, (path, answer.status_code, answer.text[:200])


def test_ids_beyond_64_bits_name_nothing(ui_url):
    import httpx

    huge = "9" * 30
    for path, status in ((f"/tasks/{huge}", 404), (f"/tasks/-{huge}", 404),
                         (f"/tasks/{'9' * 5000}", 404), (f"/tasks/{huge}/previews/figure", 404),
                         (f"/lineage?artifact={huge}", 404), (f"/lineage?execution={huge}", 404),
                         ("/lineage?artifact=999999", 404), ("/lineage?execution=x", 400),
                         (f"/lineage?artifact=1&hops={huge}", 200),
                         (f"/ui-api/experiments/0/runs?max_results={huge}", 400)):
        answer = httpx.get(ui_url + path)
        assert answer.status_code == status, (path, answer.status_code, answer.text[:200])
        assert "Traceback" not in answer.text and 'File "' not in answer.text
        if status == 404:
            assert "No task with id" in answer.text or "No artifact with id" in answer.text \
                or "No execution with id" in answer.text


def test_setting_an_alias_needs_a_json_object(ui_url):
    import httpx

    url = f"{ui_url}/ui-api/models/ui-model/aliases"
    json_type = {"Content-Type": "application/json"}
    for body, headers in ((b"not json", json_type), (b"[1, 2]", json_type),
                          (b'"champion"', json_type), (b"null", json_type),
                          (b"\xff\xfe", json_type), (b"[" * 10_000 + b"]" * 10_000, json_type),
                          (b'{"alias": "x", "version": "1"}', {"Content-Type": "text/plain"})):
        answer = httpx.post(url, content=body, headers=headers)
        assert answer.status_code == 400, (body[:20], answer.status_code, answer.text[:200])
        found = answer.json()
        assert found["error_code"] in ("MALFORMED_REQUEST", "INVALID_PARAMETER_VALUE")
        assert "JSON" in found["message"]
    answer = httpx.post(url, json={"alias": None, "version": "1"})
    assert answer.status_code == 400 and "Invalid alias" in answer.json()["message"]


DAMAGED_FLOW = """
from flowtrack import FlowSpec, step


class DamagedFlow(FlowSpec):
    @step
    def start(self):
        print("line of output " * 400)  # past the inline limit: a blob
        self.picture = b"\\x89PNG\\r\\n\\x1a\\n" + b"pixels" * 100  # an image preview
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DamagedFlow()
"""


def test_a_task_with_damaged_blobs_answers_without_store_paths(tmp_path):
    import os
    import subprocess
    import sys

    import httpx

    from tests.processes import free_port, listening

    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOWTRACK_")}
    env["FLOWTRACK_HOME"] = str(tmp_path)
    (tmp_path / "damaged_flow.py").write_text(DAMAGED_FLOW)
    subprocess.run([sys.executable, str(tmp_path / "damaged_flow.py"), "run"], check=True,
                   timeout=120, env=env, cwd=tmp_path, capture_output=True)
    blobs = [f for f in (tmp_path / "blobs").rglob("*") if f.is_file() and len(f.name) == 64]
    assert blobs
    for blob in blobs:
        blob.write_bytes(b"damaged")
    port = free_port()
    with listening([sys.executable, "-m", "flowtrack", "ui", "--port", str(port)], port, env,
                   tmp_path / "ui.log"):
        url = f"http://127.0.0.1:{port}"
        experiment = next(e for e in httpx.get(url + "/ui-api/experiments").json()
                          if e["name"] == "DamagedFlow")
        run_id = httpx.get(f"{url}/ui-api/experiments/{experiment['experiment_id']}/runs") \
            .json()["runs"][0]["run_id"]
        tasks = httpx.get(f"{url}/ui-api/runs/{run_id}/progress").json()["tasks"]
        start = min(task_id for task_id, _ in tasks)
        page = httpx.get(f"{url}/tasks/{start}")
        assert page.status_code == 200, page.text[:300]
        assert "The stdout of task" in page.text and "damaged" in page.text
        preview = httpx.get(f"{url}/tasks/{start}/previews/picture")
        assert preview.status_code == 500 and "picture" in preview.text
        assert "damaged" in preview.text
        for answer in (page, preview):
            assert str(tmp_path) not in answer.text and "Traceback" not in answer.text


def test_a_trace_shows_its_span_tree_with_timings(page, ui_url):
    page.goto(ui_url)
    page.get_by_role("link", name="ui-traces").click()
    page.locator("#trace-list").get_by_role("link", name="answer").click()
    rows = page.locator("#spans tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).locator("td").nth(1).inner_text() for i in range(3)] == \
        ["CHAIN", "RETRIEVER", "LLM"]
    # children are indented under the root; bars sit where the spans ran
    root_pad, child_pad = (rows.nth(i).locator("td").first.evaluate(
        "c => parseFloat(getComputedStyle(c).paddingLeft)") for i in (0, 1))
    assert child_pad > root_pad
    llm_bar = rows.nth(2).locator(".bar").evaluate("b => b.style.marginLeft")
    assert llm_bar == "37.5%"  # it began 150 ms into the 400 ms trace
    assert "error" in (rows.nth(2).get_attribute("class") or "")
    assert rows.nth(2).locator("td").first.inner_text().strip() == XSS  # text, not markup
    rows.nth(0).locator("summary").click()
    assert '"q": "why"' in rows.nth(0).locator("pre").first.inner_text()
    assert "relevance" in page.locator("#assessments").inner_text()
    assert not page.dialogs
    screenshot(page, "12-trace")
