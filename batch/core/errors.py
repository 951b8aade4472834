"""Expected failures, each with the exit code README.md documents for it.

    PcbatchError            exit 2: usage, configuration or input-file error; nothing was sent
    ├── InputError          a file, sheet or column problem; names file, row, column, what to do
    ├── ConfigError         a bad option, job file or environment variable
    ├── AuthFailed          exit 3: authentication/authorisation failed for the whole run
    ├── RunLocked           exit 4: another run holds the lock of the same --out
    ├── StoppedEarly        exit 75: --max-duration reached or failure budget spent
    └── Interrupted         exit 130: SIGINT/SIGTERM

The CLI prints the message (never a traceback) and exits with `exit_code`. A bad row is not an
exception but an Outcome with a status. Anything else that escapes is a bug.
"""


class PcbatchError(Exception):
    """Expected failure: the CLI prints the message, no traceback, and exits with exit_code."""

    exit_code = 2


class InputError(PcbatchError):
    """The input file cannot be used as it is; the message names file, row and column."""


class ConfigError(PcbatchError):
    """An option, job file or environment variable is wrong or missing."""


class AuthFailed(PcbatchError):
    """Credentials were refused for the whole run (401 after renewal, 403 on first customers)."""

    exit_code = 3


class RunLocked(PcbatchError):
    """Another pcbatch run holds the lock of this --out directory."""

    exit_code = 4


class StoppedEarly(PcbatchError):
    """The run stopped before the end (max duration or failure budget); --resume continues it."""

    exit_code = 75


class Interrupted(PcbatchError):
    """SIGINT/SIGTERM: in-flight customers finished, the rest were skipped."""

    exit_code = 130
