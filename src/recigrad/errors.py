"""The project's own error type."""


class ConfigError(ValueError):
    """Bad input: the message is one line naming what is wrong and what is allowed."""
