"""AWS Lambda's Python runtimes and their published deprecation dates; the one the course deploys.

Source: AWS Lambda Developer Guide, "Lambda runtimes" -> "Supported runtimes"
(https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html), Python rows, read
2026-11 (python3.14 row as listed by https://endoflife.date/aws-lambda). After the
deprecation date AWS stops patching the runtime; after "block create" no new function can
use it. A test fails once the course's runtime is past its deprecation date, so the course
moves to a newer one before learners' deployments start failing.

The local AWS runs handler code with the kit's own Python (3.11+), whatever the declared
runtime; the handlers the course uses run on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

#: the runtime the course's functions declare
COURSE_RUNTIME = "python3.13"


@dataclass(frozen=True)
class PythonRuntime:
    identifier: str
    deprecation: date
    block_create: date
    block_update: date


RUNTIMES: dict[str, PythonRuntime] = {r.identifier: r for r in (
    PythonRuntime("python3.14", date(2029, 6, 30), date(2029, 7, 31), date(2029, 8, 31)),
    PythonRuntime("python3.13", date(2029, 6, 30), date(2029, 7, 31), date(2029, 8, 31)),
    PythonRuntime("python3.12", date(2028, 10, 31), date(2028, 11, 30), date(2029, 1, 10)),
    PythonRuntime("python3.11", date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31)),
    PythonRuntime("python3.10", date(2026, 6, 30), date(2026, 7, 31), date(2026, 8, 31)),
)}


def supported(identifier: str, today: date | None = None) -> bool:
    """True while AWS still supports `identifier` (before its published deprecation date)."""
    runtime = RUNTIMES.get(identifier)
    return runtime is not None and (today or date.today()) < runtime.deprecation


def describe(identifier: str = COURSE_RUNTIME, today: date | None = None) -> str:
    """One line: the runtime and how long AWS supports it."""
    runtime = RUNTIMES.get(identifier)
    if runtime is None:
        return f"{identifier}: not in the course's table of AWS Lambda Python runtimes"
    days = (runtime.deprecation - (today or date.today())).days
    if days <= 0:
        return f"{identifier}: DEPRECATED by AWS since {runtime.deprecation:%Y-%m-%d}; move the course to a newer runtime"
    return f"{identifier}: supported by AWS Lambda until {runtime.deprecation:%Y-%m-%d} ({days} days from today)"
