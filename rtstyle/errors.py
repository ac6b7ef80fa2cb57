"""The one exception type users see.

Everything that is the user's fault (bad path, bad weights, unknown style) raises
`RtstyleError`; the CLI prints its message on one line and exits non-zero. Anything
else is a bug and keeps its traceback.
"""


class RtstyleError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


class UsageError(RtstyleError):
    """An option out of its range: bad usage, exit status 2 like argparse's own errors."""
