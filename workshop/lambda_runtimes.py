"""AWS Lambda's Python and Node.js runtimes and their published deprecation dates; the one the course deploys.

Sources: AWS Lambda Developer Guide, "Lambda runtimes" -> "Supported runtimes"
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html), Python rows, read
2026-11 (python3.14 row as listed by https://endoflife.date/aws-lambda); Node.js rows from the
same table as "Building Lambda functions with Node.js" repeats it
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-nodejs.html, read 2026-12: nodejs20.x's
block dates moved to Aug 31 / Sep 30, 2026), nodejs18.x from "Deprecated runtimes" on the first
page. After the deprecation date AWS stops patching the runtime; after "block create" no new
function can use it. A test fails once the course's runtime is past its deprecation date, so
the course moves to a newer one before learners' deployments start failing.

The local AWS runs a python3.x handler with the kit's own Python (3.11+) and a nodejs handler
with the machine's `node`, whatever the declared version (`localaws/ext/lambda_execution.py`);
the handlers the course uses run on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

#: the runtime the course's functions declare
COURSE_RUNTIME = "python3.13"


@dataclass(frozen=True)
class Runtime:
    identifier: str
    deprecation: date
    block_create: date
    block_update: date

    @property
    def language(self) -> str:
        """"python" or "nodejs": which worker runs it on the local AWS."""
        return language(self.identifier) or ""

RUNTIMES: dict[str, Runtime] = {r.identifier: r for r in (
    Runtime("python3.14", date(2029, 6, 30), date(2029, 7, 31), date(2029, 8, 31)),
    Runtime("python3.13", date(2029, 6, 30), date(2029, 7, 31), date(2029, 8, 31)),
    Runtime("python3.12", date(2028, 10, 31), date(2028, 11, 30), date(2029, 1, 10)),
    Runtime("python3.11", date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31)),
    Runtime("python3.10", date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31)),
    Runtime("nodejs24.x", date(2028, 4, 30), date(2028, 6, 1), date(2028, 7, 1)),
    Runtime("nodejs22.x", date(2027, 4, 30), date(2027, 6, 1), date(2027, 7, 1)),
    Runtime("nodejs20.x", date(2026, 4, 30), date(2026, 8, 31), date(2026, 9, 30)),
    Runtime("nodejs18.x", date(2025, 9, 1), date(2026, 2, 3), date(2026, 3, 9)),
)}


def language(identifier: str | None) -> str | None:
    """"python" for python3.x, "nodejs" for nodejsNN.x, None for any other runtime (java, dotnet, ruby, provided)."""
    identifier = identifier or ""
    if identifier.startswith("python3"):
        return "python"
    if identifier.startswith("nodejs"):
        return "nodejs"
    return None


def supported(identifier: str, today: date | None = None) -> bool:
    """True while AWS still supports `identifier` (before its published deprecation date)."""
    runtime = RUNTIMES.get(identifier)
    return runtime is not None and (today or date.today()) < runtime.deprecation


def describe(identifier: str = COURSE_RUNTIME, today: date | None = None) -> str:
    """One line: the runtime and how long AWS supports it."""
    runtime = RUNTIMES.get(identifier)
    if runtime is None:
        return f"{identifier}: not in the course's table of AWS Lambda Python and Node.js runtimes"
    days = (runtime.deprecation - (today or date.today())).days
    if days <= 0:
        return f"{identifier}: DEPRECATED by AWS since {runtime.deprecation:%Y-%m-%d}; move the course to a newer runtime"
    return f"{identifier}: supported by AWS Lambda until {runtime.deprecation:%Y-%m-%d} ({days} days from today)"
