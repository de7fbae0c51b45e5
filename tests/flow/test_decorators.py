"""Step decorators: argument validation, placement, and ``--with`` specs."""

from __future__ import annotations

import pytest

from flowtrack import (
    FlowSpec,
    catch,
    environment,
    pypi,
    pypi_base,
    resources,
    retry,
    step,
    timeout,
)
from flowtrack._errors import FlowtrackError
from flowtrack.flow import (
    DECORATORS,
    FLOW_DECORATORS_ATTRIBUTE,
    DecoratorError,
    StepDecorator,
    parse_decospec,
)


def _attrs(decorated) -> dict:
    [deco] = decorated.decorators
    return deco.attributes


def _step(func=None):
    def body(self):
        self.next(self.end)

    return step(func or body)


# ---------------------------------------------------------------------------
# defaults and accepted arguments
# ---------------------------------------------------------------------------


def test_registry():
    assert set(DECORATORS) == {"retry", "catch", "timeout", "resources", "environment", "pypi",
                               "card", "secrets"}
    for name, cls in DECORATORS.items():
        assert issubclass(cls, StepDecorator) and cls.name == name
    assert issubclass(DecoratorError, FlowtrackError)


def test_bare_and_called_forms():
    assert _attrs(retry(_step())) == {"times": 3, "minutes_between_retries": 0}
    assert _attrs(retry(times=1)(_step())) == {"times": 1, "minutes_between_retries": 0}
    assert _attrs(retry()(_step()))["times"] == 3
    assert _attrs(catch(_step())) == {"var": None, "print_exception": True}
    assert _attrs(catch(var="err", print_exception=False)(_step())) == {
        "var": "err", "print_exception": False}
    assert _attrs(timeout(minutes=1, seconds=30)(_step()))["minutes"] == 1
    assert _attrs(resources(_step()))["cpu"] == 1
    assert _attrs(resources(cpu=2, memory=512, gpu=1)(_step()))["gpu"] == 1
    assert _attrs(environment(vars={"A": 1, "B": "x"})(_step())) == {"vars": {"A": "1", "B": "x"}}


def test_numbers_are_normalised():
    assert _attrs(retry(times="2")(_step()))["times"] == 2
    assert _attrs(resources(cpu="0.5")(_step()))["cpu"] == 0.5


def test_timeout_total_seconds():
    [deco] = timeout(seconds=5, minutes=2, hours=1)(_step()).decorators
    assert deco.total_seconds == 5 + 120 + 3600


def test_decorators_are_kept_in_order_and_visible_on_the_graph_node():
    class DecoFlow(FlowSpec):
        @retry(times=1)
        @catch(var="failure")
        @timeout(seconds=10)
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    node = DecoFlow._graph["start"]
    assert [d.name for d in node.decorators] == ["timeout", "catch", "retry"]
    assert DecoFlow._graph["end"].decorators == []
    assert repr(node.decorators[2]) == "@retry(times=1, minutes_between_retries=0.0)"


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda: retry(tries=2), "@retry got unknown argument(s) tries; it accepts "
                             "minutes_between_retries, times."),
    (lambda: retry(times=-1), "@retry(times=-1): times must be >= 0."),
    (lambda: retry(times="abc"), "@retry(times='abc'): times must be a number."),
    (lambda: retry(times="1.5"), "times must be a number"),
    (lambda: retry(minutes_between_retries=-0.5), "minutes_between_retries must be >= 0"),
    (lambda: catch(var="not valid"), "@catch(var='not valid'): var must be a valid attribute name."),
    (lambda: catch(var=3), "var must be a valid attribute name"),
    (lambda: catch(variable="x"), "@catch got unknown argument(s) variable"),
    (lambda: timeout(seconds=0), "@timeout needs a positive duration"),
    (lambda: timeout(minutes=-1), "@timeout(minutes=-1): minutes must be >= 0."),
    (lambda: timeout(seconds="soon"), "seconds must be a number"),
    (lambda: resources(cpu=-1), "@resources(cpu=-1): cpu must be >= 0."),
    (lambda: resources(memory="lots"), "memory must be a number"),
    (lambda: resources(gpu=-2), "gpu must be >= 0"),
    (lambda: resources(cores=2), "@resources got unknown argument(s) cores"),
    (lambda: environment(vars=["A=1"]), "@environment(vars=...) needs a dict"),
    (lambda: environment(vars={1: "a"}), "needs a dict of name -> value"),
    (lambda: environment(env={}), "@environment got unknown argument(s) env"),
])
def test_argument_errors(make, fragment):
    with pytest.raises(DecoratorError) as info:
        make()
    assert fragment in str(info.value)


def test_bare_timeout_has_no_duration():
    with pytest.raises(DecoratorError, match="positive duration"):
        timeout(_step())


@pytest.mark.parametrize("make", [lambda: retry(times=None), lambda: resources(cpu=None),
                                  lambda: resources(memory=None)])
def test_none_for_a_required_number_is_rejected(make):
    with pytest.raises(DecoratorError):
        make()


def test_timeout_none_is_a_decorator_error():
    with pytest.raises(DecoratorError):
        timeout(seconds=None)


# ---------------------------------------------------------------------------
# placement
# ---------------------------------------------------------------------------


def test_decorator_below_step_is_an_error():
    with pytest.raises(DecoratorError) as info:
        class BelowFlow(FlowSpec):
            @step
            @retry
            def start(self):
                self.next(self.end)

    message = str(info.value)
    assert "@retry on 'start'" in message
    assert "must be written above @step" in message


def test_decorator_with_arguments_below_step_is_an_error():
    with pytest.raises(DecoratorError, match="@timeout on 'start'.*above @step"):
        class BelowFlow(FlowSpec):
            @step
            @timeout(seconds=5)
            def start(self):
                self.next(self.end)


def test_decorator_on_plain_method_is_an_error():
    with pytest.raises(DecoratorError, match="apply only to steps"):
        class PlainFlow(FlowSpec):
            @catch
            def helper(self):
                pass


@pytest.mark.parametrize("twice", [
    lambda f: retry(retry(f)),
    lambda f: retry(times=1)(retry(times=2)(f)),
    lambda f: environment(vars={"A": "1"})(catch(environment(vars={"B": "2"})(f))),
])
def test_decorator_twice_is_an_error(twice):
    with pytest.raises(DecoratorError, match=r"@(retry|environment) is given twice on step 'body'"):
        twice(_step())


def test_different_decorators_on_one_step_are_fine():
    func = resources(cpu=2)(timeout(seconds=1)(retry(catch(_step()))))
    assert [d.name for d in func.decorators] == ["catch", "retry", "timeout", "resources"]


# ---------------------------------------------------------------------------
# parse_decospec (--with)
# ---------------------------------------------------------------------------


def test_parse_bare_name():
    deco = parse_decospec("retry")
    assert deco.name == "retry" and deco.attributes == {"times": 3, "minutes_between_retries": 0}
    assert parse_decospec(" retry ").name == "retry"
    assert parse_decospec("retry:").attributes["times"] == 3


def test_parse_attributes():
    assert parse_decospec("retry:times=2").attributes["times"] == 2
    deco = parse_decospec("retry:times=2,minutes_between_retries=0.5")
    assert deco.attributes == {"times": 2, "minutes_between_retries": 0.5}
    assert parse_decospec("retry:times=2,").attributes["times"] == 2
    assert parse_decospec("timeout:seconds=5, minutes=1").total_seconds == 65  # type: ignore[attr-defined]
    assert parse_decospec("catch:var=failure").attributes["var"] == "failure"
    assert parse_decospec("catch:print_exception=false").attributes["print_exception"] is False
    assert parse_decospec("resources:cpu=2,memory=1024").attributes["memory"] == 1024


def test_parse_environment_json_with_commas():
    deco = parse_decospec('environment:vars={"A":"1"}')
    assert deco.name == "environment" and deco.attributes == {"vars": {"A": "1"}}
    deco = parse_decospec('environment:vars={"A": "1", "B": 2}')
    assert deco.attributes == {"vars": {"A": "1", "B": "2"}}


@pytest.mark.parametrize(("spec", "fragment"), [
    ("retries", "--with 'retries': unknown decorator 'retries'; choose from card, catch, "
                "environment, pypi, resources, retry, secrets, timeout."),
    ("", "unknown decorator ''"),
    ("retry:times", "--with 'retry:times': expected attr=value, got 'times'."),
    ("retry:attempts=2", "@retry got unknown argument(s) attempts"),
    ("retry:times=-1", "times must be >= 0"),
    ("timeout:seconds=abc", "seconds must be a number"),
    ("environment:vars=nope", "@environment(vars=...) needs a dict"),
    ("environment:vars={not json}", "needs a dict"),
])
def test_parse_errors(spec, fragment):
    with pytest.raises(DecoratorError) as info:
        parse_decospec(spec)
    assert fragment in str(info.value)


# ---------------------------------------------------------------------------
# @pypi and @pypi_base
# ---------------------------------------------------------------------------


def test_pypi_keeps_packages_as_version_strings():
    attrs = _attrs(pypi(packages={"scikit-learn": "1.5.2", "numpy": 2})(_step()))
    assert attrs == {"packages": {"scikit-learn": "1.5.2", "numpy": "2"}, "python": None,
                     "disabled": False}
    assert _attrs(pypi(disabled=True)(_step()))["disabled"] is True


@pytest.mark.parametrize("packages", [["numpy"], {"": "1.0"}, {"numpy": None}, "numpy==1"])
def test_pypi_rejects_packages_that_are_not_a_name_to_version_dict(packages):
    with pytest.raises(DecoratorError, match=r"@pypi\(packages=...\) needs a dict"):
        pypi(packages=packages)


def test_pypi_rejects_a_python_that_is_not_a_version_string():
    with pytest.raises(DecoratorError, match=r"python=3.11\) must be a version string"):
        pypi(python=3.11)


def test_pypi_base_marks_the_flow_class():
    @pypi_base(packages={"pandas": "2.2.3"}, python="3.11")
    class BaseFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    assert getattr(BaseFlow, FLOW_DECORATORS_ATTRIBUTE)["pypi_base"] == {
        "packages": {"pandas": "2.2.3"}, "python": "3.11"}
    with pytest.raises(DecoratorError, match="applies to a FlowSpec class"):
        pypi_base(packages={})(lambda: None)
    with pytest.raises(DecoratorError, match="needs a dict"):
        pypi_base(packages=["pandas"])


def test_with_specs_keep_commas_inside_brackets_and_quotes():
    deco = parse_decospec('pypi:packages={"scikit-learn": "1.5.2", "numpy": ">=1.26,<3"},'
                          'python=3.10')
    assert deco.attributes == {"packages": {"scikit-learn": "1.5.2", "numpy": ">=1.26,<3"},
                               "python": "3.10", "disabled": False}
    assert parse_decospec('environment:vars={"A": "1,2"}').attributes == {"vars": {"A": "1,2"}}
    assert parse_decospec("retry:times=2,minutes_between_retries=0").attributes == {
        "times": 2, "minutes_between_retries": 0}
