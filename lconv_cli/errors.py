"""Exceptions that the runner turns into run statuses and exit codes."""


class UserError(Exception):
    """A problem the user can fix (bad config, missing data): one clear line, exit code 2, no traceback."""


class DataMissingError(UserError):
    """A dataset is not where the config says."""


class DataCorruptError(UserError):
    """A dataset file is damaged (truncated, or not the published file): named, with the fix."""


class Diverged(Exception):
    """The loss became NaN or infinite: status ``diverged``, exit code 1."""


class RunInterrupted(Exception):
    """SIGINT/SIGTERM arrived during training; a checkpoint was written: status ``interrupted``."""
