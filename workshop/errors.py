"""The kit's errors: each one is a sentence a learner can act on, not a traceback."""

from __future__ import annotations


class WorkshopError(Exception):
    """An error whose message is meant for the learner, shown without a traceback."""


class LocalAWSDown(WorkshopError):
    """The local AWS is not answering at the endpoint the kit was told to use."""

    def __init__(self, endpoint: str | None):
        where = f"at {endpoint} " if endpoint else ""
        super().__init__(f"the local AWS {where}is not answering; run 'workshop up'")
        self.endpoint = endpoint


class NotOptedIn(WorkshopError):
    """A real AWS account was asked for without the explicit confirmation."""


class Unsupported(WorkshopError):
    """The local AWS does not implement an AWS call the code made."""


class BadInput(WorkshopError):
    """A parameter, stage or answer that the kit cannot use, said before anything is created."""


def install_notebook_handler() -> None:
    """In IPython, show WorkshopError as one red line instead of a traceback."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with jupyterlab
        return
    ip = get_ipython()
    if ip is None:
        return

    def _show(shell, etype, value, tb, tb_offset=None):
        # one line as the cell's error output: papermill and nbclient still see the failure
        shell._showtraceback(etype, value, [f"\033[31m✗ {value}\033[0m"])
        return None

    ip.set_custom_exc((WorkshopError,), _show)
