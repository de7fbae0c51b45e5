"""flowtrack's own versions of the card types Metaflow ships for its test suite.

Metaflow's ``test/core`` cards tests name card types that Metaflow keeps in
``metaflow.plugins.cards.card_modules.test_cards`` (a test fixture inside its package,
not a user feature). The harness installs this module under that name in the shim, so
those tests measure flowtrack's card machinery: the classes below are written against
flowtrack's public extension points (``flowtrack.cards.MetaflowCard`` and
``MetaflowCardComponent``) from the behaviour the tests expect of each type, and they
register themselves by ``type`` like any user's card class.
"""

from __future__ import annotations

import base64
import json
import random
import string
import time
from typing import Any

from flowtrack.cards import MetaflowCard, MetaflowCardComponent

SEPARATOR = "$&#!!@*"  # what the tests split the editable cards' output on
# a 1x1 PNG, for the image card
_PIXEL = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGBgAAAABQABRDE8UwAA"
          "AABJRU5ErkJggg==")


class TestStringComponent(MetaflowCardComponent):
    """A component whose rendering is its text."""

    REALTIME_UPDATABLE = True

    def __init__(self, text: Any) -> None:
        self._text = text

    def render(self) -> str:
        return str(self._text)

    def update(self, text: Any) -> None:
        self._text = text


class TestJSONComponent(MetaflowCardComponent):
    """A component whose rendering is its (JSON-able) data."""

    REALTIME_UPDATABLE = True

    def __init__(self, data: Any) -> None:
        self._data = data

    def render(self) -> Any:
        return self._data

    def update(self, data: Any) -> None:
        self._data = data


class _Joined(MetaflowCard):
    """Renders its components joined by ``SEPARATOR``."""

    def __init__(self, options: Any = None, components: Any = None, **kwargs: Any) -> None:
        self._components = list(components or [])

    def render(self, task: Any) -> str:
        return SEPARATOR.join(str(c) for c in self._components)


class TestEditableCard(_Joined):
    type = "test_editable_card"
    ALLOW_USER_COMPONENTS = True


class TestEditableCard2(_Joined):
    type = "test_editable_card_2"
    ALLOW_USER_COMPONENTS = True


class TestNonEditableCard(_Joined):
    type = "test_non_editable_card"


class TestPathSpecCard(MetaflowCard):
    """The pathspec and six random characters (so two cards differ)."""

    type = "test_pathspec_card"

    def render(self, task: Any) -> str:
        noise = "".join(random.choice(string.ascii_uppercase + string.digits) for _ in range(6))
        return f"{task.pathspec} {noise}"


class TestMockCard(MetaflowCard):
    """The value of the artifact named by ``options['key']``."""

    type = "test_mock_card"

    def __init__(self, options: Any = None, **kwargs: Any) -> None:
        self._key = (options or {}).get("key", "dummy_key")

    def render(self, task: Any) -> str:
        return str(task[self._key].data)


class TestErrorCard(MetaflowCard):
    type = "test_error_card"

    def render(self, task: Any) -> str:
        raise Exception("Unknown Things Happened")


class TestTimeoutCard(MetaflowCard):
    """Sleeps ``options['timeout']`` seconds (default 10) before rendering."""

    type = "test_timeout_card"

    def __init__(self, options: Any = None, **kwargs: Any) -> None:
        self._timeout = (options or {}).get("timeout", 10)

    def render(self, task: Any) -> str:
        time.sleep(self._timeout)
        return str(task.pathspec)


_REFRESHABLE = ("<html><script>var METAFLOW_RELOAD_TOKEN = \"[METAFLOW_RELOAD_TOKEN]\"</script>"
                "<h1>{pathspec}</h1><h1>{content}</h1></html>")


class TestRefreshCard(MetaflowCard):
    """Shows the data of the last ``current.card.refresh(data)``."""

    type = "test_refresh_card"
    RUNTIME_UPDATABLE = True
    ALLOW_USER_COMPONENTS = True
    RELOAD_POLICY = MetaflowCard.RELOAD_POLICY_ALWAYS

    def render(self, task: Any) -> str:
        data = self.runtime_data or {}
        return _REFRESHABLE.format(pathspec=task.pathspec, content=json.dumps(data.get("user")))


class TestRefreshComponentCard(MetaflowCard):
    """Shows its components' renderings as JSON."""

    type = "test_component_refresh_card"
    RUNTIME_UPDATABLE = True
    ALLOW_USER_COMPONENTS = True
    RELOAD_POLICY = MetaflowCard.RELOAD_POLICY_ONCHANGE

    def __init__(self, options: Any = None, components: Any = None, **kwargs: Any) -> None:
        self._components = list(components or [])

    def render(self, task: Any) -> str:
        return _REFRESHABLE.format(pathspec=task.pathspec, content=json.dumps(self._components))


class TestImageCard(MetaflowCard):
    type = "test_image_card"

    def render(self, task: Any) -> str:
        source = "data:image/png;base64," + base64.b64encode(base64.b64decode(_PIXEL)).decode()
        return f"<html><img src='{source}' /></html>"
