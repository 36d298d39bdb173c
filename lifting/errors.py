"""Errors a user can cause: one clear sentence, never a traceback."""


class MocapError(Exception):
    """A problem the user can fix (missing file, bad checkpoint, clip too short...).

    The message is one sentence saying what happened and what to do; command lines and the add-on show it
    as is, without a traceback.
    """
