"""The one exception type vsrkit raises for problems a user can fix.

The CLI catches :class:`VsrkitError` and prints its message as a single line, so every message must name the
problem *and* the fix, e.g. ``"input 'a.mp4' does not exist: check the path"``.
"""


class VsrkitError(Exception):
    """A user-facing error: one line, says what is wrong and how to fix it."""
