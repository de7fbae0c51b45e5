"""``python -m flowtrack``: the ``flowtrack`` command line."""

from flowtrack.cli import main

main()
