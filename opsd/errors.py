"""Exceptions whose messages are what the user sees.

Every error a user can cause (bad arguments, a bad config file, an unknown playbook) is an
`OpsdError`: the CLI prints its message on one line and exits 3, never a traceback. Every
exception opsd defines derives from `OpsdError`.
"""

from __future__ import annotations

from typing import Any

from opsd.results import Status


class OpsdError(Exception):
    """Base class: something opsd could not do, explained in one line."""

    exit_code = 3


class ConfigError(OpsdError):
    """The configuration file, environment or credentials are invalid.

    `problems` holds one line per problem (`opsd.toml: metrics.port: not a valid integer`).
    """

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class PlaybookError(ConfigError):
    """A playbook file is invalid or a playbook or check is unknown."""


class UsageError(OpsdError):
    """The command line is wrong."""


class CheckError(OpsdError):
    """Raised inside a check to end it with a plain-words reason.

    The runner turns it into a result with `status` (UNKNOWN unless given) and the message as
    summary, without the exception type in front.
    """

    def __init__(
        self,
        message: str,
        status: Status | str = Status.UNKNOWN,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = Status(status)
        self.details: dict[str, Any] = details or {}
