"""The talk's web application: the page every stage serves, on AWS and on the local AWS.

`create_app(config, instance_id=..., az=...)` builds the aiohttp application; `userdata.build(config)`
turns its config into EC2 user data that installs and starts it on Amazon Linux 2023, and
`userdata.parse(user_data)` reads the config back (the local AWS does, to serve it). The
modules this package ships to an instance (`app`, `data`, `sessions`, `__main__`, `static/`)
import nothing from the kit; `cpu` and `userdata` are the kit's side.
"""

from .app import create_app

__all__ = ["create_app"]
