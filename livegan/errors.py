"""User-facing errors: one clear line, exit code 2, nothing written."""


class LiveganError(Exception):
    """An error caused by the user's input (file, field, value, address).

    The message is a single line that names what was wrong; the CLI prints it as
    ``livegan: error: <message>`` and exits with code 2.
    """

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
