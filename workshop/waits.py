"""Waits that talk: poll until a resource is ready, with a progress bar naming it.

    waits.wait_for("instance sbs-demo-web running", lambda: state() == "running",
                   timeout_s=300, typical_s=30)
    waits.waiter(rds, "db_instance_available", "RDS primary sbs-demo-db", typical_s=600,
                 DBInstanceIdentifier="sbs-demo-db")
    waits.together(waits.Wait(...), waits.BotoWait(rds, ...), ...)   # the slowest, not the sum

A wait only reads: it never creates, modifies or deletes anything. Interrupting one
(Ctrl-C, a kernel interrupt, a timeout) therefore loses nothing; running the same cell
again finds what exists and waits for it again.

On the local target everything is ready at the first look, so no bar is drawn and nothing
sleeps; the bar appears only once a first check says "not yet". The timeout there is
capped (`LOCAL_TIMEOUT_S`) so an emulator that never changes state cannot hang a run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from . import config
from .errors import WorkshopError

#: on the local target a wait gives up after this many seconds whatever it was given
LOCAL_TIMEOUT_S = 60.0
#: polling interval on the local target (the emulator answers in milliseconds)
LOCAL_INTERVAL_S = 0.1
#: the bar is redrawn at least this often while sleeping between polls
_TICK_S = 1.0


class WaitTimeout(WorkshopError):
    """A resource did not reach the state waited for within the time allowed."""


class WaitFailed(WorkshopError):
    """A resource reached a state it cannot leave by waiting (failed, deleted, ...)."""


@dataclass
class Pending:
    """What a check returns for "not yet", with the state to show beside the bar."""

    status: str = ""

    def __bool__(self) -> bool:
        return False


def _fmt_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"


def _is_local() -> bool:
    try:
        return config.current().is_local
    except WorkshopError:
        return True


@dataclass
class Wait:
    """One thing to wait for: `check()` returns something truthy when it is ready.

    `what_to_do` is the advice printed on timeout; the default says that re-running
    resumes the wait. `interval_s=None` picks 0.1 s locally, else typical/20 within 2-15 s.
    """

    description: str
    check: Callable[[], Any]
    timeout_s: float
    typical_s: float
    interval_s: float | None = None
    what_to_do: str = ""
    # --- state while waiting ----------------------------------------------------------
    result: Any = field(default=None, init=False)
    done: bool = field(default=False, init=False)
    status: str = field(default="", init=False)

    def interval(self) -> float:
        if self.interval_s is not None:
            return max(0.0, self.interval_s)
        if _is_local():
            return LOCAL_INTERVAL_S
        return min(15.0, max(2.0, self.typical_s / 20))

    def limit(self) -> float:
        return min(self.timeout_s, LOCAL_TIMEOUT_S) if _is_local() else self.timeout_s

    def poll(self) -> bool:
        """Look once; remember the result; True when ready."""
        value = self.check()
        if value:
            self.result, self.done, self.status = value, True, "ready"
            return True
        self.status = value.status if isinstance(value, Pending) else ""
        return False

    def label(self) -> str:
        return f"{self.description} (typically ~{_fmt_duration(self.typical_s)})"

    def timeout_message(self, waited: float) -> str:
        advice = self.what_to_do or (
            "nothing was deleted; run the cell (or command) again to keep waiting, "
            "or look at the resource in the AWS console"
        )
        state = f" (last state: {self.status})" if self.status else ""
        return (f"gave up waiting for {self.description} after {_fmt_duration(waited)}{state}; "
                f"it typically takes ~{_fmt_duration(self.typical_s)}. {advice}")


class BotoWait(Wait):
    """A boto3 waiter (`client.get_waiter(name)`) polled by the kit, so it can draw a bar.

    It applies the waiter's own acceptors (success/failure/retry, by path or error code)
    to each response, shows the state the acceptors look at, and ends on success, on a
    failure state (WaitFailed) or at the timeout (the waiter's delay x max attempts
    unless `timeout_s` is given).
    """

    def __init__(self, client, waiter_name: str, description: str, typical_s: float,
                 timeout_s: float | None = None, interval_s: float | None = None,
                 what_to_do: str = "", **kwargs: Any):
        from botocore import xform_name

        model = client.get_waiter(waiter_name).config
        wc = kwargs.pop("WaiterConfig", None) or {}
        delay = float(wc.get("Delay", model.delay))
        attempts = int(wc.get("MaxAttempts", model.max_attempts))
        self._client = client
        self._operation = getattr(client, xform_name(model.operation))
        self._acceptors = model.acceptors
        self._kwargs = kwargs
        self._waiter_name = waiter_name
        self._delay = delay
        super().__init__(description, self._check, timeout_s or delay * attempts,
                         typical_s, interval_s, what_to_do)

    def interval(self) -> float:
        if self.interval_s is not None:
            return max(0.0, self.interval_s)
        return LOCAL_INTERVAL_S if _is_local() else min(self._delay, 15.0)

    def _check(self):
        from botocore.exceptions import ClientError

        try:
            response = self._operation(**self._kwargs)
        except ClientError as exc:
            response = exc.response
        for acceptor in self._acceptors:
            if acceptor.matcher_func(response):
                if acceptor.state == "success":
                    return response
                if acceptor.state == "failure":
                    raise WaitFailed(f"{self.description} reached state {self._shown(acceptor, response)!r} "
                                     f"while waiting for {self._waiter_name}; waiting longer will not help: "
                                     "look at the resource in the AWS console, fix or delete it, and re-run")
                return Pending(self._shown(acceptor, response))  # "retry"
        if "Error" in response:
            error = response["Error"]
            raise WaitFailed(f"{self.description}: {error.get('Code')}: {error.get('Message', '')}".rstrip(": "))
        return Pending(self._state_of(response))

    def _shown(self, acceptor, response) -> str:
        if acceptor.matcher == "error":
            return str(acceptor.expected)
        return self._state_of(response) or str(acceptor.expected)

    def _state_of(self, response) -> str:
        import jmespath

        for acceptor in self._acceptors:
            if acceptor.argument:
                try:
                    value = jmespath.search(acceptor.argument, response)
                except Exception:  # pragma: no cover - malformed path in a service model
                    continue
                if isinstance(value, list):
                    value = ", ".join(sorted({str(v) for v in value}))
                if value not in (None, "", [], True, False):
                    return str(value)
        return ""


_BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n:.0f}/{total:.0f} s{postfix}"


class _KernelLine:
    """A wait's bar in a notebook: one line of text, redrawn in place with a display id, so a notebook saved
    by papermill or exported to HTML keeps the last state ("... 100%| 3/3 s, ready"), not a widget's first
    frame ("0%| 0/90 s"). The tqdm-like part of tqdm that `_update_bar` and `_finish_bar` use."""

    def __init__(self, total: int, desc: str):
        from IPython.display import display

        self.total, self.n, self.desc, self._postfix = total, 0.0, desc, ""
        self._handle = display({"text/plain": self._text()}, raw=True, display_id=True)

    def _text(self) -> str:
        from tqdm import tqdm

        return tqdm.format_meter(self.n, self.total, 0, prefix=self.desc, unit="s", ncols=100,
                                 bar_format=_BAR_FORMAT, postfix=self._postfix or None)

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self._postfix = text
        if refresh:
            self.refresh()

    def refresh(self) -> None:
        if self._handle is not None:
            self._handle.update({"text/plain": self._text()}, raw=True)

    def close(self) -> None:
        self.refresh()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


_quiet: ContextVar[bool] = ContextVar("workshop_waits_quiet", default=False)


@contextmanager
def quiet():
    """`with waits.quiet():` waits draw no bar (a build behind the scenes, such as the capacity model's)."""
    token = _quiet.set(True)
    try:
        yield
    finally:
        _quiet.reset(token)


_topology_only: ContextVar[bool] = ContextVar("workshop_waits_topology_only", default=False)


@contextmanager
def topology_only():
    """`with waits.topology_only():` builds create what a stage is made of but skip the waits for it to
    serve (targets passing health checks): for readers of the topology such as the capacity model."""
    token = _topology_only.set(True)
    try:
        yield
    finally:
        _topology_only.reset(token)


def for_serving() -> bool:
    """Whether a build should wait for what it built to serve (False inside `topology_only()`)."""
    return not _topology_only.get()


class _NoBar:
    total, n = 1, 0.0

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass


def _bar(w: Wait, position: int):
    if _quiet.get():
        return _NoBar()
    if _in_kernel():
        return _KernelLine(max(1, round(w.typical_s)), w.label())
    from tqdm import tqdm

    return tqdm(total=max(1, round(w.typical_s)), desc=w.label(), unit="s", position=position,
                leave=True, bar_format=_BAR_FORMAT)


def together(*items: Wait) -> list[Any]:
    """Wait for several independent resources at once; return each one's result, in order.

    Each has its own bar; the whole takes as long as the slowest. On a timeout or a
    failure the others are left as they are (a wait never changes anything).
    """
    if not items:
        return []
    start = time.monotonic()
    next_poll = {id(w): start for w in items}
    bars: dict[int, Any] = {}
    try:
        while True:
            now = time.monotonic()
            for w in items:
                if not w.done and now >= next_poll[id(w)]:
                    if w.poll():
                        if id(w) in bars:
                            _finish_bar(bars[id(w)], now - start)
                    else:
                        next_poll[id(w)] = time.monotonic() + w.interval()
                        if id(w) not in bars:
                            bars[id(w)] = _bar(w, len(bars))
            pending = [w for w in items if not w.done]
            if not pending:
                return [w.result for w in items]
            now = time.monotonic()
            waited = now - start
            for w in pending:
                if waited >= w.limit():
                    raise WaitTimeout(w.timeout_message(waited))
                _update_bar(bars[id(w)], w, waited)
            until = min(next_poll[id(w)] for w in pending)
            time.sleep(max(0.0, min(until - now, _TICK_S, min(w.limit() for w in pending) - waited)))
    except KeyboardInterrupt:
        pending = [w.description for w in items if not w.done]
        print(f"interrupted while waiting for {', '.join(pending)}; nothing was changed: "
              "run the cell (or command) again and it will find what exists and keep waiting")
        raise
    finally:
        for b in bars.values():
            b.close()


def _update_bar(bar, w: Wait, waited: float) -> None:
    """Redraw only when the shown second or state changes (no flood of lines in logs)."""
    over = waited > w.typical_s
    if over and waited > bar.total:
        bar.total = round(waited) + 1  # longer than typical: keep the bar honest
    shown = (int(waited), w.status, over)
    if getattr(bar, "_sbs_shown", None) == shown:
        return
    bar._sbs_shown = shown
    bar.n = min(waited, bar.total)
    bar.set_postfix_str(", ".join(x for x in (w.status, "longer than typical" if over else "") if x), refresh=False)
    bar.refresh()


def _finish_bar(bar, waited: float) -> None:
    bar.total = max(1, round(waited))
    bar.n = bar.total
    bar.set_postfix_str("ready", refresh=False)
    bar.refresh()


def wait_for(description: str, check_fn: Callable[[], Any], timeout_s: float, typical_s: float,
             interval_s: float | None = None, what_to_do: str = "") -> Any:
    """Poll `check_fn()` until it returns something truthy (returned); WaitTimeout after `timeout_s`.

    `check_fn` may return `Pending("creating")` to show the current state beside the bar.
    """
    return together(Wait(description, check_fn, timeout_s, typical_s, interval_s, what_to_do))[0]


def waiter(client, waiter_name: str, description: str, typical_s: float, timeout_s: float | None = None,
           interval_s: float | None = None, what_to_do: str = "", **kwargs: Any) -> Any:
    """A boto3 waiter (e.g. "db_instance_available") with a bar; kwargs go to its describe call."""
    return together(BotoWait(client, waiter_name, description, typical_s, timeout_s, interval_s,
                             what_to_do, **kwargs))[0]


__all__ = ["BotoWait", "Pending", "Wait", "WaitFailed", "WaitTimeout", "for_serving", "quiet", "together",
           "topology_only", "wait_for", "waiter"]
