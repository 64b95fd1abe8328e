"""EC2 user data that installs and starts the web app, with its config between marker lines.

`build(config)` gives a bash script for Amazon Linux 2023: install Python's pip and the app's
libraries, write the config to /etc/sbs/webapp.json, unpack the app (a gzipped tar, base64,
embedded: it fits AWS's 16 KB user-data limit, Amazon EC2 User Guide, "Run commands on your
Linux instance at launch"), and (re)start it with systemd on port 80. The script is wrapped in
a MIME multipart whose cloud-config part makes cloud-init run it at every boot, not only the
first (`cloud_final_modules: [scripts-user, always]`; AWS re:Post Knowledge Center, "How can I
utilize user data to automatically run a script with every restart of my Amazon EC2 Linux
instance?"): a stage that changes the config (stage 3 points the app at RDS) stops the
instance, modifies its user data, and starts it. `parse(user_data)` reads the
config back; the local AWS serves an instance whose user data carries one (see docs/local-web.md).

The config (`validate` checks it): `sessions` "memory" or {"dynamodb": table}; `db` null or
{"writer", "reader" (null or a name), "port", "user", "password", "database"}; `cache` null or
{"host", "port", "ttl"}; `region`; `port` (80).
"""

from __future__ import annotations

import base64
import binascii
import gzip
import io
import json
import tarfile
from pathlib import Path

from ..errors import BadInput

#: the heredoc delimiter around the config: the marker the local AWS looks for
MARKER = "SBS-WEBAPP-CONFIG"
CONFIG_PATH = "/etc/sbs/webapp.json"
#: AWS's limit on user data, before base64 (EC2 User Guide, "Run commands on your Linux instance at launch")
MAX_BYTES = 16 * 1024
#: the files an instance runs (the kit's side, cpu.py and userdata.py, stays home)
SHIPPED = ("__init__.py", "__main__.py", "app.py", "data.py", "sessions.py")
PACKAGES = "aiohttp pymysql redis boto3"

_HERE = Path(__file__).parent
_MIME = """Content-Type: multipart/mixed; boundary="//"
MIME-Version: 1.0

--//
Content-Type: text/cloud-config; charset="us-ascii"
MIME-Version: 1.0
Content-Transfer-Encoding: 7bit
Content-Disposition: attachment; filename="cloud-config.txt"

#cloud-config
cloud_final_modules:
- [scripts-user, always]

--//
Content-Type: text/x-shellscript; charset="us-ascii"
MIME-Version: 1.0
Content-Transfer-Encoding: 7bit
Content-Disposition: attachment; filename="userdata.txt"

{script}--//--
"""
_TEMPLATE = """#!/bin/bash
# Scale, baby, scale! web app{title}: installs the app and starts it with systemd (port {port})
set -euo pipefail
dnf install -y python3-pip
pip3 install {packages}
{setup}mkdir -p /opt/sbs /etc/sbs
cat > {config_path} <<'{marker}'
{config}
{marker}
base64 -d > /tmp/sbs-webapp.tgz <<'SBS-WEBAPP-CODE'
{code}
SBS-WEBAPP-CODE
tar -xzf /tmp/sbs-webapp.tgz -C /opt/sbs
cat > /etc/systemd/system/sbs-webapp.service <<'UNIT'
[Unit]
Description=Scale, baby, scale! web app
After=network-online.target
[Service]
WorkingDirectory=/opt/sbs
ExecStart=/usr/bin/python3 -m webapp {config_path}
Restart=always
[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable sbs-webapp
systemctl restart sbs-webapp
"""


def validate(config) -> dict:
    """`config` if the app can run with it, else BadInput naming the field."""
    if not isinstance(config, dict):
        raise BadInput(f"the web app's config is a dict (sessions, db, cache), not {type(config).__name__}")
    sessions = config.get("sessions", "memory")
    if sessions != "memory" and not (isinstance(sessions, dict) and isinstance(sessions.get("dynamodb"), str)):
        raise BadInput(f'config "sessions": "memory" or {{"dynamodb": "<table>"}}, not {sessions!r}')
    db = config.get("db")
    if db is not None and not (isinstance(db, dict) and isinstance(db.get("writer"), str) and db["writer"]):
        raise BadInput(f'config "db": null or {{"writer": "<endpoint>", "reader": ..., ...}}, not {db!r}')
    cache = config.get("cache")
    if cache is not None and not (isinstance(cache, dict) and isinstance(cache.get("host"), str)):
        raise BadInput(f'config "cache": null or {{"host": "<endpoint>", "port": 6379, "ttl": 30}}, not {cache!r}')
    return config


def _code() -> str:
    """The app's files as a gzipped tar, base64: the same bytes for the same files (gzip's header time is 0),
    so building a stage again finds the user data unchanged and does not restart the instance."""
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9, mtime=0) as packed, \
            tarfile.open(fileobj=packed, mode="w") as tar:
        for name in SHIPPED:
            tar.add(_HERE / name, arcname=f"webapp/{name}")
        for path in sorted((_HERE / "static").iterdir()):
            tar.add(path, arcname=f"webapp/static/{path.name}")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return "\n".join(encoded[i:i + 76] for i in range(0, len(encoded), 76))


def build(config: dict, title: str = "", setup: tuple[str, ...] = ()) -> str:
    """The user data for an instance serving the app with `config` (BadInput past 16 KB); `setup`:
    shell lines run before the app starts (stage 1's MariaDB on the box)."""
    config = validate(config)
    script = _MIME.format(script=_TEMPLATE.format(title=f" ({title})" if title else "", port=int(config.get("port", 80)),
                              setup="".join(f"{line}\n" for line in setup),
                              packages=PACKAGES, config_path=CONFIG_PATH, marker=MARKER,
                              config=json.dumps(config, indent=1, sort_keys=True), code=_code()))
    if len(script.encode()) > MAX_BYTES:
        raise BadInput(f"the web app's user data is {len(script.encode()):,} bytes, past AWS's {MAX_BYTES:,}: "
                       "shrink the app or fetch it from S3 in the script")
    return script


def parse(user_data) -> dict | None:
    """The app config in `user_data` (text, bytes, or base64 of either), or None without the marker."""
    if user_data is None:
        return None
    if isinstance(user_data, bytes):
        user_data = user_data.decode("utf-8", "replace")
    if f"<<'{MARKER}'" not in user_data:
        try:
            user_data = base64.b64decode(user_data, validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            return None
        if f"<<'{MARKER}'" not in user_data:
            return None
    _, _, rest = user_data.partition(f"<<'{MARKER}'\n")
    body, found, _ = rest.partition(f"\n{MARKER}\n")
    if not found:
        raise BadInput(f"the user data opens the web app's config ({MARKER}) but never closes it")
    try:
        return validate(json.loads(body))
    except json.JSONDecodeError as exc:
        raise BadInput(f"the web app's config in the user data is not JSON: {exc}") from None
