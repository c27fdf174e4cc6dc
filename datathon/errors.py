"""Errors a user can cause: the CLI prints them as one readable message, never a traceback."""


class UserError(Exception):
    """A problem with what the user gave (a file, an option, a directory).

    ``exit_code`` is what the CLI exits with: 2 for invalid input (the usual case),
    1 for a check that ran and found problems.
    """

    def __init__(self, message: str, exit_code: int = 2):
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message
