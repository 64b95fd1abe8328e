"""The local AWS servers, Lambda workers and Locust processes of this checkout running now (a test helper)."""

from __future__ import annotations

import os


def kit_processes() -> dict[int, str]:
    """Every local AWS server, Lambda worker and `workshop traffic` Locust of this checkout: {pid: command line}. Another copy
    of the kit on the machine (its own clone, its own venv) is not ours to judge."""
    from workshop import config

    root = str(config.ROOT)
    found = {}
    for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        line = " ".join(a.decode(errors="replace") for a in argv if a)
        if "-m workshop.traffic._launch" in line:  # `workshop traffic`'s Locust runs in the run's folder
            if f"{root}/workshop/traffic/locustfile.py" in line:
                found[int(entry.name)] = line
            continue
        if "-m workshop.localaws" not in line and "lambda_worker." not in line:  # .py and .js
            continue
        try:
            cwd = os.readlink(f"/proc/{entry.name}/cwd")
        except OSError:
            cwd = ""
        ours = f"{root}/workshop/localaws/lambda_worker" in line if "lambda_worker" in line \
            else cwd == root or cwd.startswith(root + os.sep)  # a server runs where its owner ran
        if ours:
            found[int(entry.name)] = line
    return found
