"""``python -m clientops`` is the ``clientops`` command."""

from clientops.cli import run

run()
