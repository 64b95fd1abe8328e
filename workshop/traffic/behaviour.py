"""What one virtual user does, derived from the capacity model's assumptions (never copied).

The capacity model (`workshop/capacity/assumptions.py`) describes an *active* user at the
peak: `page_requests_per_min` requests a minute, of which `static_share` are static, and
`events_per_min` writes (each a POST to the web tier, `capacity/model.py`). A virtual user
is one such active user, so:

- page views a minute   = page_requests_per_min × (1 − static_share)   (2 with the defaults)
- static requests/page  = static_share / (1 − static_share)            (4: 1 dynamic + 4 static)
- writes (POST /messages) per page view = events_per_min / page views a minute
                                                                       (0.25: one every 2 minutes)
  (a fractional count is drawn: 0.25 means one page view in four is followed by a write)
- between page views it waits 60 / (page views a minute) seconds on average (exponential, so
  users do not march in step), divided by `think` (1 = the model's pace; `think=10` makes
  each virtual user ten times as busy, i.e. it stands for ten active users).

`Behaviour.argv()` passes the figures to the Locust process on its command line (values,
not the environment; the locustfile imports nothing of the kit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import BadInput

#: the web app's static files (wt-web's contract); a page's static requests cycle through them
STATIC_PATHS = ("/static/app.css", "/static/app.js", "/static/logo.svg")
#: the dynamic page, and the write (form field `text`, answered 303 to /)
PAGE_PATH, WRITE_PATH = "/", "/messages"
#: the largest think-time compression (a virtual user 100 times the model's pace)
MAX_THINK = 100.0


@dataclass(frozen=True)
class Behaviour:
    pages_per_min: float  # page views per active user per minute (the model's pace)
    static_per_page: float  # static requests after each dynamic page
    write_per_page: float  # POST /messages per page view, on average
    think: float = 1.0  # waits are divided by this
    source: str = "workshop/capacity/assumptions.py"

    @property
    def mean_wait_s(self) -> float:
        """Mean seconds between page views, after `think`."""
        return 60.0 / self.pages_per_min / self.think if self.pages_per_min > 0 else 60.0

    @property
    def requests_per_min(self) -> float:
        """Requests a virtual user makes a minute when the server answers at once."""
        return (self.pages_per_min * (1 + self.static_per_page + self.write_per_page)) * self.think

    def argv(self) -> list[str]:
        return ["--wl-pages-per-min", repr(self.pages_per_min), "--wl-static-per-page", repr(self.static_per_page),
                "--wl-write-per-page", repr(self.write_per_page), "--wl-think", repr(self.think)]

    def as_dict(self) -> dict:
        return {"pages_per_min": self.pages_per_min, "static_per_page": self.static_per_page,
                "write_per_page": self.write_per_page, "think": self.think, "mean_wait_s": self.mean_wait_s,
                "requests_per_min": self.requests_per_min, "source": self.source}


def from_assumptions(values: Mapping[str, float] | None = None, think: float = 1.0) -> Behaviour:
    """The virtual user of the model's assumptions (`capacity.assumptions.make(values)`), `think` times as busy."""
    from ..capacity import assumptions

    if isinstance(think, bool) or not isinstance(think, (int, float)) or not 1 <= think <= MAX_THINK:
        raise BadInput(f"think must be a number from 1 (the model's pace) to {MAX_THINK:g}, not {think!r}")
    a = assumptions.make(values)
    dynamic_share = 1.0 - a["static_share"]
    if dynamic_share <= 0:
        raise BadInput("static_share = 1 leaves no page views to make: a virtual user needs dynamic pages")
    pages = a["page_requests_per_min"] * dynamic_share
    if pages <= 0:
        raise BadInput("page_requests_per_min = 0: a virtual user would make no requests")
    return Behaviour(pages_per_min=pages, static_per_page=a["static_share"] / dynamic_share,
                     write_per_page=a["events_per_min"] / pages, think=float(think))
