"""``Config``: values resolved before the run, read-only in steps, usable in decorators
through ``config.x`` and ``config_expr``; the order of sources and the errors."""

from __future__ import annotations

import json
import pickle

import pytest

from flowtrack import Flow, namespace
from flowtrack.flow import ConfigValue

CONFIG_FLOW = """
    import os
    from flowtrack import Config, FlowSpec, Parameter, config_expr, environment, project, step

    def colon_parser(text):
        key, value = text.split(":")
        return {key.strip(): value.strip()}

    def computed(ctx):
        return {"seed": 7}

    def threshold_default(ctx):
        return ctx.configs.model.layers * 10

    @project(name=config_expr("model").project)
    class ConfigFlow(FlowSpec):
        model = Config("model", default_value={"project": "cfgproj", "layers": 3,
                                               "opt": {"lr": 0.1}})
        pairs = Config("pairs", default="pairs.txt", parser=colon_parser)
        seeded = Config("seeded", default_value=computed)
        extra = Config("extra")
        threshold = Parameter("threshold", default=threshold_default, type=int)
        layers = Parameter("layers", default=config_expr("model").layers, type=int)

        @environment(vars={"LR": config_expr("str(model.opt.lr)"), "LAYERS": model.layers})
        @step
        def start(self):
            self.seen = {"lr": os.environ["LR"], "layers_env": os.environ["LAYERS"],
                         "attr": self.model.opt.lr, "item": self.model["opt"]["lr"],
                         "pairs": self.pairs.key, "seed": self.seeded.seed,
                         "extra": self.extra, "threshold": self.threshold,
                         "layers": self.layers}
            try:
                self.model.layers = 4
            except TypeError:
                self.seen["immutable"] = True
            self.next(self.end)

        @step
        def end(self):
            pass

    if __name__ == "__main__":
        ConfigFlow()
"""


@pytest.fixture
def config_flow(write_flow, tmp_path):
    (tmp_path / "pairs.txt").write_text("key: from-file\n")
    return write_flow(CONFIG_FLOW)


def test_configs_reach_steps_decorators_parameters_and_the_record(config_flow, run_flow):
    run_flow(config_flow, "run", check=True)
    namespace(None)
    run = Flow("ConfigFlow").latest_run
    seen = run["start"].task.data.seen
    assert seen == {"lr": "0.1", "layers_env": "3", "attr": 0.1, "item": 0.1,
                    "pairs": "from-file", "seed": 7, "extra": None, "threshold": 30,
                    "layers": 3, "immutable": True}
    assert "project:cfgproj" in run.system_tags
    # stored as plain values, like parameters
    assert run["end"].task.data.model == {"project": "cfgproj", "layers": 3, "opt": {"lr": 0.1}}


def test_command_line_and_variables_override_defaults(config_flow, run_flow, tmp_path):
    other = tmp_path / "other.txt"
    other.write_text("key: from-option\n")
    env = {"METAFLOW_FLOW_CONFIG_VALUE": json.dumps({"extra": {"x": 1}})}
    run_flow(config_flow, "--config", "pairs", str(other), "--config-value", "model",
             json.dumps({"project": "cfgproj", "layers": 5, "opt": {"lr": 0.5}}), "run",
             env=env, check=True)
    namespace(None)
    seen = Flow("ConfigFlow").latest_run["start"].task.data.seen
    assert (seen["pairs"], seen["lr"], seen["layers"], seen["threshold"]) == (
        "from-option", "0.5", 5, 50)
    assert seen["extra"] == {"x": 1}


@pytest.mark.parametrize(("args", "message"), [
    (["--config-value", "nope", "{}"], "Unknown config(s) nope"),
    (["--config-value", "model", "{not json"], "Config 'model' could not be parsed as JSON"),
    (["--config", "pairs", "/does/not/exist"], "Config 'pairs': cannot read"),
])
def test_bad_config_input_is_a_clear_error(config_flow, run_flow, args, message):
    proc = run_flow(config_flow, *args, "run")
    assert proc.returncode != 0
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_config_value_is_read_only_and_pickles():
    value = ConfigValue({"a": {"b": 1}})
    assert value.a.b == 1 and value["a"]["b"] == 1 and value == {"a": {"b": 1}}
    for change in (lambda: value.__setitem__("a", 2), lambda: setattr(value, "a", 2),
                   lambda: value.a.__setitem__("b", 2), lambda: value.update(a=1)):
        with pytest.raises(TypeError, match="immutable"):
            change()
    copy = pickle.loads(pickle.dumps(value))
    assert isinstance(copy, ConfigValue) and copy.to_dict() == {"a": {"b": 1}}
