"""The AWS CLI boxed in for the tutorial tests (fixtures in conftest.py): every call gets `--endpoint-url` of the
module's local AWS (a loopback address, checked), keys `testing`, region us-east-1, config and
credentials files in the module's temp folder, no instance metadata, no proxy and a timeout.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import zipfile
from pathlib import Path

AWS = Path(sys.executable).with_name("aws")
REGION = "us-east-1"
CLI_TIMEOUT_S = 60


class CliError(AssertionError):
    """The AWS CLI exited non-zero: its code and its stderr (the AWS error line)."""


class AwsCli:
    """`cli("lambda", "invoke", ...)` -> the parsed JSON output (None when it prints nothing)."""

    def __init__(self, endpoint: str, workdir: Path):
        if not endpoint.startswith(("http://127.0.0.1:", "http://localhost:")):
            raise ValueError(f"the AWS CLI here talks to a loopback local AWS only, not {endpoint}")
        self.endpoint, self.workdir = endpoint, workdir
        (workdir / "config").write_text(f"[default]\nregion = {REGION}\noutput = json\n")
        (workdir / "credentials").write_text("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
        self.env = {
            "PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8", "HOME": str(workdir),
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(workdir / "config"), "AWS_SHARED_CREDENTIALS_FILE": str(workdir / "credentials"),
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_PAGER": "", "NO_PROXY": "127.0.0.1,localhost",
            "AWS_ENDPOINT_URL": endpoint,  # also for any client a command makes besides its own
        }

    def run(self, *args: str, timeout: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
        """Run `aws <args> --endpoint-url <local AWS>` in the module's folder (for file:// and fileb://)."""
        return subprocess.run([str(AWS), *args, "--endpoint-url", self.endpoint], cwd=self.workdir, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def __call__(self, *args: str, timeout: float = CLI_TIMEOUT_S):
        done = self.run(*args, timeout=timeout)
        if done.returncode != 0:
            raise CliError(f"aws {' '.join(args[:2])} exited {done.returncode}: {done.stderr.strip()}")
        return json.loads(done.stdout) if done.stdout.strip() else None

    def fails(self, *args: str) -> str:
        """Run a call that must fail; its stderr."""
        done = self.run(*args)
        assert done.returncode != 0, f"aws {' '.join(args[:2])} succeeded: {done.stdout[:300]}"
        return done.stderr

    # --- the tutorials' shell steps that are not `aws` calls ---------------------------------------

    def write(self, name: str, text: str) -> str:
        """`cat > name << EOF` in the tutorial's folder; returns the name."""
        (self.workdir / name).write_text(text)
        return name

    def zip(self, name: str, *files: str) -> str:
        """`zip name files...`; returns `fileb://name` for --zip-file."""
        with zipfile.ZipFile(self.workdir / name, "w") as z:
            for f in files:
                z.write(self.workdir / f, f)
        return f"fileb://{name}"

    def invoke_url(self, api_id: str, stage: str, path: str = "") -> str:
        """The local AWS's invoke URL of a deployed stage (docs/serverless-local.md)."""
        return f"{self.endpoint}/execute-api/{api_id}/{stage}{path}"


def curl(method: str, url: str, body: bytes | None = None, headers: dict | None = None,
         timeout: float = 30) -> tuple[int, dict, bytes]:
    """`curl -X method url -H ...` against the local AWS (loopback only): (status, headers, body). Header
    names go as written (`greeter`, as curl sends it; urllib would send `Greeter`)."""
    parts = urllib.parse.urlsplit(url)
    assert parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost"), url
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def wait_for(fn, timeout: float = 20.0, interval: float = 0.2):
    """Poll fn() until it returns something truthy; return it (or the last falsy value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)

def node_missing() -> bool:
    return shutil.which("node") is None
