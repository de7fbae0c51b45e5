"""The web UI: pages (Jinja2 templates, every value auto-escaped) and the JSON they
fetch, over one tracking store, mounted at ``/`` by the tracking server and by
``flowtrack ui``. Its scripts (charts included: ``static/chart.js``) and styles
are files of this package. Nothing is fetched from the internet.
"""

from __future__ import annotations

from ._router import ui_router

__all__ = ["ui_router"]
