"""Run the app on an EC2 instance: `python3 -m webapp /etc/sbs/webapp.json` (the user data's systemd unit).

The instance id and AZ come from the instance metadata service, IMDSv2 (Amazon EC2 User Guide,
"Use the Instance Metadata Service to access instance metadata": PUT a token, then GET with it).
"""

from __future__ import annotations

import json
import sys
import urllib.request

from aiohttp import web

from .app import create_app

IMDS = "http://169.254.169.254/latest"


def metadata(path: str) -> str:
    token_request = urllib.request.Request(f"{IMDS}/api/token", method="PUT",
                                           headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"})
    with urllib.request.urlopen(token_request, timeout=2) as r:
        token = r.read().decode()
    request = urllib.request.Request(f"{IMDS}/meta-data/{path}", headers={"X-aws-ec2-metadata-token": token})
    with urllib.request.urlopen(request, timeout=2) as r:
        return r.read().decode()


def main(argv: list[str]) -> None:
    with open(argv[1] if len(argv) > 1 else "/etc/sbs/webapp.json") as f:
        config = json.load(f)
    app = create_app(config, instance_id=metadata("instance-id"), az=metadata("placement/availability-zone"))
    web.run_app(app, host="0.0.0.0", port=int(config.get("port", 80)))


if __name__ == "__main__":
    main(sys.argv)
