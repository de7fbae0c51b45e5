"""Run parameters: ``Parameter``, ``JSONType`` and ``IncludeFile``.

Conversion and validation are tested in-process; how values reach steps (and what
happens when a step assigns one, or an IncludeFile is missing) through real runs.
"""

from __future__ import annotations

import json

import pytest

from flowtrack import IncludeFile, JSONType, Parameter
from flowtrack._errors import FlowtrackError, ParameterError
from flowtrack.client import Flow, namespace
from flowtrack.flow._params import RESERVED_PARAMETER_NAMES

# ---------------------------------------------------------------------------
# type inference
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("default", "expected", "type_name"), [
    (None, str, "str"),
    ("hello", str, "str"),
    (3, int, "int"),
    (0.5, float, "float"),
    (True, bool, "bool"),
    (False, bool, "bool"),
    ({"a": 1}, JSONType, "JSON"),
    ([1, 2], JSONType, "JSON"),
])
def test_type_inferred_from_default(default, expected, type_name):
    param = Parameter("p", default=default)
    assert param.type is expected
    assert param.type_name == type_name


def test_explicit_type_wins_over_default():
    param = Parameter("p", default="3", type=int)
    assert param.type is int
    assert param.convert("7") == 7


def test_bool_default_is_bool_not_int():
    # bool is a subclass of int: inference must check bool first
    assert Parameter("flag", default=False).convert("yes") is True


def test_repr_names_parameter_default_and_type():
    assert repr(Parameter("count", default=3)) == "Parameter('count', default=3, type=int)"


# ---------------------------------------------------------------------------
# convert()
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("default", "raw", "value"), [
    ("x", "hello", "hello"),
    (1, "42", 42),
    (1, "-3", -3),
    (0.5, "2.5", 2.5),
    (0.5, "3", 3.0),
    (1, 5, 5),          # already converted (e.g. a click default)
    (0.5, 2, 2),        # an int is accepted for a float parameter
    ("x", None, None),
])
def test_convert_values(default, raw, value):
    converted = Parameter("p", default=default).convert(raw)
    assert converted == value
    assert type(converted) is type(value)


@pytest.mark.parametrize(("default", "raw", "type_name"), [
    (1, "abc", "int"),
    (1, "1.5", "int"),
    (0.5, "fast", "float"),
    (True, "maybe", "bool"),
    ({"a": 1}, "{not json", "JSON"),
])
def test_convert_errors_name_parameter_and_type(default, raw, type_name):
    param = Parameter("my-param", default=default)
    with pytest.raises(ParameterError) as info:
        param.convert(raw)
    message = str(info.value)
    assert "'--my-param'" in message
    assert f"expected {type_name}" in message
    assert repr(raw) in message
    assert isinstance(info.value, FlowtrackError)
    assert info.value.__cause__ is None  # raised "from None": a clean message


def test_json_error_says_where():
    with pytest.raises(ParameterError, match=r"not valid JSON: .* at position \d+"):
        Parameter("cfg", default={}).convert('{"a": }')


@pytest.mark.parametrize("word", ["1", "true", "True", "T", "yes", "Y", "on", " ON "])
def test_bool_true_words(word):
    assert Parameter("flag", default=False).convert(word) is True


@pytest.mark.parametrize("word", ["0", "false", "FALSE", "f", "no", "N", "off"])
def test_bool_false_words(word):
    assert Parameter("flag", default=True).convert(word) is False


@pytest.mark.parametrize("word", ["", "2", "nope", "truee"])
def test_bool_bad_words(word):
    with pytest.raises(ParameterError, match="expected bool.*true/false"):
        Parameter("flag", default=True).convert(word)


def test_bool_passes_bools_through():
    param = Parameter("flag", default=True)
    assert param.convert(False) is False
    assert param.convert(True) is True


# ---------------------------------------------------------------------------
# JSONType
# ---------------------------------------------------------------------------


def test_jsontype_parses_strings_and_passes_values_through():
    assert JSONType('{"a": [1, 2], "b": null}') == {"a": [1, 2], "b": None}
    assert JSONType("3") == 3
    value = {"already": "parsed"}
    assert JSONType(value) is value
    assert repr(JSONType) == "JSON"
    assert JSONType.name == "JSON"
    with pytest.raises(json.JSONDecodeError):
        JSONType("{")


def test_json_parameter_with_explicit_type():
    param = Parameter("cfg", type=JSONType, default='{"lr": 0.1}')
    assert param.type_name == "JSON"
    assert param.convert('{"lr": 0.2, "layers": [1, 2]}') == {"lr": 0.2, "layers": [1, 2]}
    assert param.convert('"just a string"') == "just a string"


# ---------------------------------------------------------------------------
# separator
# ---------------------------------------------------------------------------


def test_separator_splits_string_values():
    param = Parameter("names", default="a", separator=",")
    assert param.convert("x,y,z") == ["x", "y", "z"]
    assert param.convert("single") == ["single"]
    assert Parameter("names", default="a", separator=";").convert("x,y;z") == ["x,y", "z"]


@pytest.mark.parametrize("default", [1, 0.5, True, {"a": 1}])
def test_separator_only_for_strings(default):
    with pytest.raises(ParameterError, match="'names': separator is allowed only for string"):
        Parameter("names", default=default, separator=",")


# ---------------------------------------------------------------------------
# names
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(RESERVED_PARAMETER_NAMES))
def test_reserved_names(name):
    with pytest.raises(ParameterError, match=f"'{name}' is a reserved word"):
        Parameter(name, default=1)


@pytest.mark.parametrize("name", ["max_num_splits", "run_id", "origin_run_id", "no_lint"])
def test_reserved_names_with_underscores(name):
    with pytest.raises(ParameterError, match="reserved word"):
        Parameter(name, default=1)


@pytest.mark.parametrize("name", ["", None, 3])
def test_name_must_be_a_non_empty_string(name):
    with pytest.raises(ParameterError, match="non-empty string name"):
        Parameter(name)  # type: ignore[arg-type]


def test_reserved_name_on_include_file():
    with pytest.raises(ParameterError, match="reserved word"):
        IncludeFile("tags")


@pytest.mark.parametrize("attribute", ["name", "input", "next"])
def test_parameter_on_a_reserved_attribute_is_one_clear_error(write_flow, run_flow, attribute):
    # Python 3.11 wraps an error raised while the class is made in "RuntimeError: Error
    # calling __set_name__" with two tracebacks; the command line reports it instead
    path = write_flow(f"""
        from flowtrack import FlowSpec, Parameter, step

        class ReservedFlow(FlowSpec):
            {attribute} = Parameter("{attribute}_value", default=1)

            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        if __name__ == "__main__":
            ReservedFlow()
    """)
    for command in ("run", "show"):
        proc = run_flow(path, command)
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr and "RuntimeError" not in proc.stderr
        assert f"attribute '{attribute}', which is reserved" in proc.stderr
        assert f"{attribute}_param = Parameter(" in proc.stderr


# ---------------------------------------------------------------------------
# on a flow class, without a run
# ---------------------------------------------------------------------------


def test_class_access_returns_parameter_and_instance_reads_default():
    from flowtrack import FlowSpec, step

    class P(FlowSpec):
        alpha = Parameter("alpha-value", default=0.5)

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert isinstance(P.alpha, Parameter)
    assert P.alpha.attr_name == "alpha" and P.alpha.name == "alpha-value"
    assert [p.name for p in P._parameters()] == ["alpha-value"]
    flow = P(use_cli=False)
    assert flow.alpha == 0.5
    with pytest.raises(AttributeError, match="'alpha' is a Parameter of flow P"):
        flow.alpha = 1.0


def test_include_file_basics():
    text = IncludeFile("data", help="the data")
    assert text.IS_INCLUDE_FILE and text.is_text and text.type is str
    assert text.type_name == "PATH"
    assert text.decode_content("héllo".encode(), "f.txt") == "héllo"
    raw = IncludeFile("blob", is_text=False)
    assert raw.decode_content(b"\xff\x00", "f.bin") == b"\xff\x00"
    with pytest.raises(ParameterError, match=r"IncludeFile '--data': f.bin is not valid utf-8"):
        text.decode_content(b"\xff\xfe\x00", "f.bin")
    latin = IncludeFile("latin", encoding="latin-1")
    assert latin.decode_content(b"caf\xe9", "x") == "café"


# ---------------------------------------------------------------------------
# through real runs
# ---------------------------------------------------------------------------

PARAMS_FLOW = '''
from flowtrack import FlowSpec, IncludeFile, Parameter, step


class ParamsFlow(FlowSpec):
    """Shows every kind of parameter to its steps."""

    count = Parameter("count", default=2, help="an int")
    rate = Parameter("rate", default=0.5)
    flag = Parameter("flag", default=False)
    config = Parameter("config", default={"a": 1})
    names = Parameter("names", default="x,y", separator=",")
    text = IncludeFile("text", required=True, help="a text file")
    blob = IncludeFile("blob", is_text=False)

    @step
    def start(self):
        for name in ("count", "rate", "flag", "config", "names", "text", "blob"):
            value = getattr(self, name)
            print(f"PARAM {name} {type(value).__name__} {value!r}")
        self.next(self.end)

    @step
    def end(self):
        print(f"END text {self.text!r}")


if __name__ == "__main__":
    ParamsFlow()
'''

ASSIGN_FLOW = '''
from flowtrack import FlowSpec, Parameter, step


class AssignFlow(FlowSpec):
    count = Parameter("count", default=2)

    @step
    def start(self):
        self.count = 5
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    AssignFlow()
'''


def _param_lines(stdout: str) -> dict[str, str]:
    found = {}
    for line in stdout.splitlines():
        if "PARAM " in line:
            name, rest = line.split("PARAM ", 1)[1].split(" ", 1)
            found[name] = rest
    return found


def test_values_reach_steps_and_include_files_are_stored(write_flow, run_flow, tmp_path):
    path = write_flow(PARAMS_FLOW)
    (tmp_path / "in.txt").write_text("line one\nline two\n")
    (tmp_path / "in.bin").write_bytes(b"\x00\x01\xff")
    proc = run_flow(path, "run", "--count", "7", "--rate", "0.25", "--flag", "yes",
                    "--config", '{"b": [1, 2]}', "--names", "p,q,r",
                    "--text", "in.txt", "--blob", str(tmp_path / "in.bin"), check=True)
    seen = _param_lines(proc.stdout)
    assert seen == {
        "count": "int 7",
        "rate": "float 0.25",
        "flag": "bool True",
        "config": "dict {'b': [1, 2]}",
        "names": "list ['p', 'q', 'r']",
        "text": "str 'line one\\nline two\\n'",
        "blob": "bytes b'\\x00\\x01\\xff'",
    }
    assert "END text 'line one\\nline two\\n'" in proc.stdout

    # the content (not the path) is stored with the run: the file may go away
    (tmp_path / "in.txt").unlink()
    namespace(None)
    run = Flow("ParamsFlow").latest_run
    assert run is not None and run.successful
    params = run.parameters
    assert params["text"] == "line one\nline two\n"
    assert params["blob"] == b"\x00\x01\xff"
    assert params["count"] == 7
    assert params["names"] == ["p", "q", "r"]


def test_defaults_are_converted(write_flow, run_flow, tmp_path):
    path = write_flow(PARAMS_FLOW)
    (tmp_path / "in.txt").write_text("t")
    proc = run_flow(path, "run", "--text", "in.txt", check=True)
    seen = _param_lines(proc.stdout)
    assert seen["count"] == "int 2"
    assert seen["flag"] == "bool False"
    assert seen["config"] == "dict {'a': 1}"
    assert seen["names"] == "list ['x', 'y']"
    assert seen["blob"] == "NoneType None"


def test_missing_include_file(write_flow, run_flow):
    path = write_flow(PARAMS_FLOW)
    proc = run_flow(path, "run", "--text", "no-such-file.txt")
    assert proc.returncode == 1
    assert "IncludeFile '--text'" in proc.stderr
    assert "'no-such-file.txt' does not exist" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "Workflow starting" not in proc.stdout


def test_include_file_not_text(write_flow, run_flow, tmp_path):
    path = write_flow(PARAMS_FLOW)
    (tmp_path / "bad.txt").write_bytes(b"\xff\xfe\x00")
    proc = run_flow(path, "run", "--text", "bad.txt")
    assert proc.returncode == 1
    assert "IncludeFile '--text': bad.txt is not valid utf-8 text" in proc.stderr
    assert "is_text=False" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_required_parameter_missing_is_a_usage_error(write_flow, run_flow):
    path = write_flow(PARAMS_FLOW)
    proc = run_flow(path, "run")
    assert proc.returncode == 2
    assert "Missing option '--text'" in proc.stderr
    assert "Usage:" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_bad_value_is_a_usage_error(write_flow, run_flow):
    path = write_flow(PARAMS_FLOW)
    proc = run_flow(path, "run", "--text", "x", "--flag", "maybe")
    assert proc.returncode == 2
    assert "'--flag'" in proc.stderr and "expected bool" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr


def test_assigning_a_parameter_fails_the_run(write_flow, run_flow):
    path = write_flow(ASSIGN_FLOW)
    proc = run_flow(path, "run")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "self.count cannot be assigned in step 'start'" in output
    assert "Step 'start'" in proc.stderr
    namespace(None)
    run = Flow("AssignFlow").latest_run
    assert run is not None and not run.successful
    exception = run["start"].task.exception
    assert exception is not None and exception.type == "builtins.AttributeError"  # as in Metaflow


# ---------------------------------------------------------------------------
# deploy-time defaults: default=<function of a context>, as in Metaflow
# ---------------------------------------------------------------------------


def _click_default(param: Parameter):
    """What the command line does with a callable default: call it with no arguments,
    then convert the result like a value typed by the user."""
    assert callable(param.default)
    return param.convert(param.default())


def test_callable_default_is_evaluated_with_a_context(monkeypatch):
    from flowtrack.flow._params import ParameterContext

    monkeypatch.setenv("FLOWTRACK_USER", "ctx-user")
    seen = []

    def default(ctx):
        seen.append(ctx)
        return 5

    param = Parameter("alpha", default=default, type=int)
    assert param.type is int
    assert _click_default(param) == 7 - 2
    (ctx,) = seen
    assert isinstance(ctx, ParameterContext)
    assert ParameterContext._fields == ("flow_name", "user_name", "parameter_name", "logger",
                                        "ds_type", "configs")
    assert ctx.parameter_name == "alpha"
    assert ctx.user_name == "ctx-user"
    assert ctx.ds_type == "local" and ctx.configs == {}  # the flow has no Config
    assert callable(ctx.logger)


def test_callable_default_evaluated_on_each_call_not_at_definition():
    calls = []
    param = Parameter("alpha", default=lambda ctx: calls.append(1) or "x")
    assert calls == []
    param.default()
    param.default()
    assert len(calls) == 2


def test_callable_default_without_type_is_a_string_parameter():
    param = Parameter("name", default=lambda ctx: "hello")
    assert param.type is str
    assert _click_default(param) == "hello"


def test_callable_default_may_take_the_deploy_time_flag():
    flags = []

    def default(ctx, deploy_time):
        flags.append(deploy_time)
        return "v"

    assert _click_default(Parameter("p", default=default)) == "v"
    assert flags == [False]


@pytest.mark.parametrize(("kind", "result", "value"), [
    (int, 3, 3),
    (float, 0.25, 0.25),
    (bool, True, True),
    (bool, False, False),
    (str, "text", "text"),
    (JSONType, '{"a": [1, 2]}', {"a": [1, 2]}),
])
def test_callable_default_result_is_converted_like_a_typed_value(kind, result, value):
    param = Parameter("p", default=lambda ctx: result, type=kind)
    converted = _click_default(param)
    assert converted == value and type(converted) is type(value)


def test_callable_default_with_separator_splits():
    param = Parameter("names", default=lambda ctx: "a,b", separator=",")
    assert _click_default(param) == ["a", "b"]


@pytest.mark.parametrize(("kind", "result", "expected"), [
    (int, "3", "an int"),
    (int, 3.0, "an int"),
    (float, 1, "a float"),
    (bool, 1, "a bool"),
    (str, 3, "a string"),
    (JSONType, {"a": 1}, "a string"),
])
def test_callable_default_of_the_wrong_type_names_the_parameter(kind, result, expected):
    from flowtrack.exception import ParameterFieldTypeMismatch

    param = Parameter("p", default=lambda ctx: result, type=kind)
    with pytest.raises(ParameterFieldTypeMismatch) as info:
        param.default()
    message = str(info.value)
    assert "Parameter 'p'" in message and expected in message
    assert type(result).__name__ in message
    assert isinstance(info.value, ParameterError)


def test_failing_callable_default_names_the_parameter_and_the_error():
    from flowtrack.exception import ParameterFieldFailed

    def default(ctx):
        raise ValueError("no such bucket")

    with pytest.raises(ParameterFieldFailed) as info:
        Parameter("alpha", default=default).default()
    message = str(info.value)
    assert "Parameter 'alpha'" in message and "ValueError: no such bucket" in message
    assert "--alpha" in message and "FLOWTRACK_RUN_ALPHA" in message
    assert isinstance(info.value, ParameterError)
    assert isinstance(info.value.__cause__, ValueError)


@pytest.mark.parametrize("field", ["required", "show_default", "separator"])
def test_function_in_other_fields_is_refused(field):
    with pytest.raises(ParameterError, match=rf"Parameter 'p': {field}= cannot be a function"):
        Parameter("p", **{field: lambda ctx: True})


def test_callable_default_repr_and_help_text_do_not_call_it():
    def default(ctx):
        raise AssertionError("must not be called")

    param = Parameter("alpha", default=default, type=int)
    assert str(param.default) == "deploy-time value of 'alpha'"
    assert "deploy-time" in repr(param) and "type=int" in repr(param)


def test_callable_default_is_never_stored_in_place_of_a_value():
    import pickle

    param = Parameter("alpha", default=len)
    with pytest.raises(TypeError, match="parameter 'alpha' has a deploy-time default"):
        pickle.dumps(param.default)


def test_callable_default_read_outside_a_run():
    from flowtrack import FlowSpec, step

    class D(FlowSpec):
        alpha = Parameter("alpha", default=lambda ctx: len(ctx.flow_name), type=int)

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert D(use_cli=False).alpha == 1


DEPLOY_FLOW = '''
import os

from flowtrack import FlowSpec, JSONType, Parameter, step


def never(ctx):
    raise RuntimeError("evaluated although a value was given")


def who(ctx):
    ctx.logger("evaluating " + ctx.parameter_name)
    return ctx.flow_name + ":" + ctx.parameter_name + ":" + ctx.user_name


class BaseFlow(FlowSpec):
    origin = Parameter("origin", default=who)


class DeployFlow(BaseFlow):
    count = Parameter("count", default=lambda ctx: 3 + 4, type=int)
    config = Parameter("config", default=lambda ctx: '{"k": [1]}', type=JSONType)
    forced = Parameter("forced", default=never, type=float)
    failing = Parameter("failing", default=lambda ctx: os.environ["DEPLOY_FAIL"] and "x")

    @step
    def start(self):
        for name in ("origin", "count", "config", "forced", "failing"):
            value = getattr(self, name)
            print(f"PARAM {name} {type(value).__name__} {value!r}")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    DeployFlow()
'''


def test_deploy_time_defaults_in_a_run(write_flow, run_flow):
    path = write_flow(DEPLOY_FLOW)
    proc = run_flow(path, "run", "--forced", "1.5", env={"DEPLOY_FAIL": "1"}, check=True)
    assert _param_lines(proc.stdout) == {
        "origin": "str 'DeployFlow:origin:tester'",
        "count": "int 7",
        "config": "dict {'k': [1]}",
        "forced": "float 1.5",
        "failing": "str 'x'",
    }
    assert "evaluating origin" in proc.stderr
    namespace(None)
    run = Flow("DeployFlow").latest_run
    assert run is not None and run.successful
    assert run.parameters["count"] == 7
    assert run.parameters["config"] == {"k": [1]}
    assert run.parameters["origin"] == "DeployFlow:origin:tester"


def test_deploy_time_default_skipped_when_the_environment_gives_a_value(write_flow, run_flow):
    path = write_flow(DEPLOY_FLOW)
    proc = run_flow(path, "run", env={"FLOWTRACK_RUN_FORCED": "2.5", "DEPLOY_FAIL": "1"},
                    check=True)
    assert _param_lines(proc.stdout)["forced"] == "float 2.5"


def test_failing_deploy_time_default_stops_the_run_before_it_starts(write_flow, run_flow):
    path = write_flow(DEPLOY_FLOW)
    proc = run_flow(path, "run", "--forced", "1")  # no DEPLOY_FAIL: the lambda fails
    assert proc.returncode == 1, proc.stderr
    assert "Parameter 'failing'" in proc.stderr and "KeyError: 'DEPLOY_FAIL'" in proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "Internal error" not in proc.stderr
    assert "Workflow starting" not in proc.stdout
    namespace(None)
    with pytest.raises(FlowtrackError):  # nothing was recorded
        Flow("DeployFlow")


def test_show_and_help_with_deploy_time_defaults(write_flow, run_flow):
    path = write_flow(DEPLOY_FLOW)
    show = run_flow(path, "show", check=True)
    assert "Step start" in show.stdout
    helped = run_flow(path, "run", "--help", check=True)
    assert "--forced" in helped.stdout
    assert "deploy-time value of 'forced'" in " ".join(helped.stdout.split())
    assert "evaluated although" not in helped.stdout + helped.stderr
