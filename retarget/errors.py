"""Errors a user can cause on the retargeting side (bad file, unusable rig, unknown preset)."""


class RetargetError(Exception):
    """A problem the user can fix, stated in one sentence saying what happened and what to do.

    `retarget` cannot import `lifting`; `lifting` catches this and re-raises it as its own `MocapError`.
    The add-on shows the message as is, without a traceback.
    """
