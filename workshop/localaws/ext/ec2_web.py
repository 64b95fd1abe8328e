"""EC2 instances that serve the web app: each running instance whose user data carries the app listens.

On AWS an instance launched with `workshop.webapp.userdata.build(config)` installs the app and
serves it on port 80. Here, every *running* instance (in any account and region of the local
AWS) whose user data carries that config serves the same app on a loopback port of its own,
published in the data plane as

    Endpoint("instance", instance_id, port, names=(public DNS name, private DNS name),
             details={"az", "instance_type", "vcpus", "private_ip", "autoscaling_group"})

(the load balancer finds its targets this way). A reconcile loop compares moto's instance
states with what listens every `RECONCILE_S` seconds, so every path that changes an instance
counts: RunInstances, Start/Stop/TerminateInstances, and Auto Scaling's launches and
terminations (which bypass EC2's API). Those EC2 calls also reconcile before they answer, so a
box that StopInstances stopped refuses connections as soon as the call returns (on AWS it has
shut down once `instance_stopped` says so), and the one StartInstances started answers with its
new type and user data: no request reaches the box of before the restart. Stopping, terminating or losing the AZ closes the
listener and drops its connections (connection refused, not a hang); starting serves again,
on the same port when it is free.

An instance whose config names its DB writer `localhost` runs its own MySQL (stages 1-2:
MariaDB on the box): a `mysql_server` endpoint on the instance's loop, not published (only
the box reaches it), its data kept while the instance is stopped and gone when terminated.

Each instance's CPU is `workshop.webapp.cpu.Cpu` (its vCPUs; one local request puts `scale` requests' work on them);
`AWS/EC2 CPUUtilization` comes from the slot time requests actually held (`_instance_metrics`).

Wire API on the local AWS (for demos and tests):

- `POST /_workshop/dataplane/az` `{"az": "us-east-1a", "down": true}`: every instance in that AZ
  stops answering although EC2 still says `running`, as in an AZ outage; `"down": false` ends
  it. With `"instances": ["i-...", ...]` only those (one run's share of the AZ: a learner's drill
  leaves the rest of a shared local AWS alone). `GET` lists the AZs that are down (and the instances).
- `POST /_workshop/dataplane/metrics`: publish the CPU datapoints now instead of at the next
  `METRIC_INTERVAL_S`; answers what it published.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import threading
import time
from dataclasses import dataclass, field

from werkzeug.wrappers import Response

from . import _instance_metrics

log = logging.getLogger("workshop.localaws.ec2_web")

RECONCILE_S = 0.2
#: seconds between CPUUtilization datapoints: AWS's 60 s (detailed monitoring) divided by the
#: metrics' time scale (`_instance_metrics.TIME_SCALE`, 90), as the alarms on them are
#: (`cloudwatch_alarms.TIME_SCALES`), so a target-tracking policy sees one datapoint per period
METRIC_INTERVAL_S = 60.0 / _instance_metrics.TIME_SCALE
#: seconds an instance's in-flight requests get to finish when it stops (then they are dropped)
SHUTDOWN_S = 0.25
#: a DB writer by these names is the instance's own database (stages 1-2: MariaDB on the box)
ONBOX_NAMES = ("localhost", "127.0.0.1")
_AZ = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d[a-z]$")
#: EC2 calls after which the listeners (and their names) follow at once, not at the next round
STATE_ACTIONS = ("RunInstances", "StartInstances", "StopInstances", "TerminateInstances", "AssociateAddress",
                 "DisassociateAddress")
#: how long such a call waits for a round in progress before leaving the change to the next round
AFTER_CALL_WAIT_S = 0.5


@dataclass
class Serving:
    """One instance's listener: its aiohttp runner, port, CPU and the data-plane endpoint."""

    key: tuple[str, str, str]  # (account, region, instance id)
    runner: object
    port: int
    cpu: object
    endpoint: object
    opened: float = field(default_factory=time.monotonic)
    signature: tuple = ()
    sampled_busy: float = 0.0
    sampled_at: float = field(default_factory=time.monotonic)


def _vcpus(instance_type: str) -> int:
    from ...capacity.instance_types import vcpus
    from ...errors import BadInput

    try:
        return vcpus(instance_type)
    except BadInput:
        log.warning("instance type %s is not in the capacity model: 1 vCPU assumed", instance_type)
        return 1


def _group_name(instance) -> str | None:
    group = getattr(instance, "autoscaling_group", None)
    if group is not None:
        return group.name
    for tag in instance.get_tags():
        if tag.get("key") == "aws:autoscaling:groupName":
            return tag.get("value")
    return None


def _names(instance) -> tuple[str, ...]:
    """The instance's DNS names as they are now (the public one follows its Elastic IP)."""
    return tuple(n for n in (instance.public_dns_name, instance.private_dns_name) if n)


def _raw_user_data(instance):
    raw = instance.user_data
    return raw[0] if isinstance(raw, list) and raw else raw


def _signature(instance) -> tuple:
    """What, changed, makes an instance serve anew: a start since it opened, its type, its user data."""
    raw = _raw_user_data(instance)
    return (getattr(instance, "_workshop_boots", 0), instance.instance_type, getattr(raw, "_encoded_string", raw))


def _counting_starts(original):
    def start(self, *args, **kwargs):
        self._workshop_boots = getattr(self, "_workshop_boots", 0) + 1
        return original(self, *args, **kwargs)

    return start


def patches(moto) -> None:
    """Count each instance's starts, so a stop and start between two reconcile rounds is seen."""
    from moto.ec2.models.instances import Instance

    Instance.start = _counting_starts(Instance.start)


class Fleet:
    """The instances of one local AWS that serve the app."""

    def __init__(self, server):
        self.server = server
        self.plane = server.dataplane
        self.serving: dict[tuple[str, str, str], Serving] = {}
        self.ports: dict[tuple[str, str, str], int] = {}  # last port per instance, reused on start
        self.down_azs: set[str] = set()
        #: instance id -> its AZ, for an outage limited to some instances of an AZ (one run's share)
        self.dark: dict[str, str] = {}
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str], object] = {}
        self._configs: dict[tuple[str, object], dict | None] = {}
        self._alive: set[tuple[str, str, str]] = set()
        #: the database of a box that runs its own (stages 1-2): kept while stopped, gone when terminated
        self.onbox: dict[tuple[str, str, str], object] = {}
        self.plane.on_stop(self._close_all)

    # --- what should serve ---------------------------------------------------------------
    def wanted(self) -> dict[tuple[str, str, str], tuple[object, dict, tuple]]:
        """(account, region, id) -> (moto instance, app config, signature) for every instance that should answer."""
        from moto.ec2.models import ec2_backends

        from ...webapp import userdata

        out, self._alive = {}, set()
        for account, region, backend in list(ec2_backends.iter_backends()):
            for instance in backend.all_instances():
                if instance.state not in ("shutting-down", "terminated"):
                    self._alive.add((account, region, instance.id))
                if instance.state != "running" or self.is_dark(instance.id, instance.placement.zone):
                    continue
                config = self._config(instance, userdata.parse)
                if config is not None:
                    out[(account, region, instance.id)] = (instance, config, _signature(instance))
        return out

    def reconcile(self, wait_s: float = -1) -> None:
        """Open listeners for instances that should serve and close the others. With `wait_s` >= 0, give up
        (the next round will do it) when another reconcile holds the fleet for longer than that."""
        if not self._lock.acquire(timeout=wait_s):
            return
        try:
            self._reconcile()
        finally:
            self._lock.release()

    def _reconcile(self) -> None:
        try:
            wanted = self.wanted()
        except RuntimeError:  # moto's dicts changed while we read them: next round
            return
        # gone, or restarted since it opened (a stop and start quicker than one round: a new
        # type or new user data, as stages 2 and 3 do): close, and open again below
        for key in [k for k, v in self.serving.items() if k not in wanted or wanted[k][2] != v.signature]:
            self._close(self.serving.pop(key))
        for key in [k for k in self.onbox if k not in self._alive]:  # terminated: its disk is gone
            self.onbox.pop(key).close()
        for key, (instance, config, signature) in wanted.items():
            if key not in self.serving:
                try:
                    self.serving[key] = self._open(key, instance, config)
                    self.serving[key].signature = signature
                except Exception:
                    log.exception("instance %s could not start serving", key[2])
            elif self.serving[key].endpoint.names != _names(instance):  # an Elastic IP (dis)associated
                serving = self.serving[key]
                serving.endpoint = self.plane.publish(dataclasses.replace(serving.endpoint, names=_names(instance)))

    def _config(self, instance, parse) -> dict | None:
        """The app config in an instance's user data (cached per user-data value), or None."""
        raw = _raw_user_data(instance)
        key = (instance.id, getattr(raw, "_encoded_string", raw))
        if key not in self._configs:
            text = raw if raw is None or isinstance(raw, (str, bytes)) else raw.decode()  # moto's Base64EncodedString
            try:
                self._configs[key] = parse(text)
            except Exception as exc:  # a learner's edited user data: that instance does not serve
                log.warning("instance %s does not serve the web app: %s", instance.id, exc)
                self._configs[key] = None
        return self._configs[key]

    # --- listeners -------------------------------------------------------------------------
    def resolve(self, name: str, port: int):
        """An AWS name in an app's config -> the loopback address of what the data plane publishes for it,
        or of what a Route 53 record by that name leads to (stage 5's `db-writer`/`db-reader` CNAMEs)."""
        from . import route53_edge

        found = self.plane.by_host(name)
        edge = route53_edge.edge_of(self.server) if found is None else None
        found = edge.lookup(name) if edge is not None else found
        return (found.host, found.port) if found is not None else None

    def aws_client(self, region: str):
        """`service -> boto3 client` on this local AWS, for the app's DynamoDB sessions and DB secret
        (DynamoDB's session writes go straight to moto's backend: `_dynamo_direct`)."""
        def make(service: str):
            if (service, region) not in self._clients:
                from ... import aws, config
                from ._dynamo_direct import Direct

                target = config.target("local", region=region, endpoint=self.server.endpoint)
                client = aws.client(service, region, target=target)
                self._clients[(service, region)] = Direct(client, region) if service == "dynamodb" else client
            return self._clients[(service, region)]

        return make

    def _onbox_engine(self, key, db: dict):
        from ..mysql_server import Engine

        if key not in self.onbox:
            self.onbox[key] = Engine(databases=(db["database"],) if db.get("database") else ())
        return self.onbox[key]

    def _open(self, key, instance, config) -> Serving:
        from aiohttp import web

        from ...webapp import create_app
        from ...webapp.cpu import Cpu
        from ..dataplane import Endpoint

        account, region, instance_id = key
        az, vcpus = instance.placement.zone, _vcpus(instance.instance_type)
        tags = {t.get("key"): t.get("value") for t in instance.get_tags()}
        run, name = tags.get("workshop:run"), tags.get("Name")  # its course run: the scale its traffic set
        cpu = Cpu(vcpus, scale=lambda: self.plane.scale_for(run, name))
        db = config.get("db") or {}
        onbox = self._onbox_engine(key, db) if db.get("writer") in ONBOX_NAMES else None
        local_db: dict = {}

        def resolve(name, port):
            if name in ONBOX_NAMES:
                return ("127.0.0.1", local_db["endpoint"].port) if "endpoint" in local_db else None
            return self.resolve(name, port)

        app = create_app(config, instance_id=instance_id, az=az, resolve=resolve, aws_client=self.aws_client(region),
                         middlewares=[cpu.middleware()])
        if onbox is not None:
            async def close_db(app):
                await local_db["endpoint"].close()

            app.on_cleanup.append(close_db)

        async def start():
            if onbox is not None:
                from ..mysql_server import serve

                local_db["endpoint"] = await serve(onbox, user=db.get("user", "admin"), password=db.get("password") or "")
            runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_S)
            await runner.setup()
            for port in (self.ports.get(key, 0), 0):
                try:
                    site = web.TCPSite(runner, "127.0.0.1", port, reuse_address=True)
                    await site.start()
                    return runner, site._server.sockets[0].getsockname()[1]
                except OSError:
                    if port == 0:
                        await runner.cleanup()
                        raise
            raise AssertionError("unreachable")

        runner, port = self.plane.run(start(), timeout=10)
        self.ports[key] = port
        details = {"az": az, "instance_type": instance.instance_type, "vcpus": vcpus,
                   "private_ip": instance.private_ip, "autoscaling_group": _group_name(instance)}
        endpoint = self.plane.publish(Endpoint("instance", instance_id, port, account=account, region=region,
                                               names=_names(instance), details=details))
        log.info("instance %s serves the web app on 127.0.0.1:%s", instance_id, port)
        return Serving(key, runner, port, cpu, endpoint)

    def _close(self, serving: Serving) -> None:
        self.plane.withdraw("instance", serving.key[2])
        try:
            self.plane.run(serving.runner.cleanup(), timeout=5)
        except Exception:
            log.exception("instance %s did not close cleanly", serving.key[2])

    async def _close_all(self) -> None:
        # no lock: a reconcile holding it may be waiting on this very loop (the server's workers stop first)
        left, self.serving = list(self.serving.values()), {}
        for serving in left:
            self.plane.withdraw("instance", serving.key[2])
            await serving.runner.cleanup()

    # --- AZ outages --------------------------------------------------------------------------
    def set_az(self, az: str, down: bool, instances: list[str] | None = None) -> dict:
        """Take `az` dark or bring it back: every instance in it, or only `instances` (those of `az`)."""
        if instances is None:
            (self.down_azs.add if down else self.down_azs.discard)(az)
        else:
            for instance_id in instances:
                if down:
                    self.dark[instance_id] = az
                elif self.dark.get(instance_id) == az:
                    del self.dark[instance_id]
        self.reconcile()
        return self.outages()

    def is_dark(self, instance_id: str, az: str) -> bool:
        """Is this instance in an AZ outage (its whole AZ, or it alone)?"""
        return az in self.down_azs or self.dark.get(instance_id) == az

    def outages(self) -> dict:
        out: dict = {"down": sorted(self.down_azs)}
        if self.dark:
            out["instances"] = dict(sorted(self.dark.items()))
        return out


def _json(body, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _az_route(fleet: Fleet):
    def handle(request, match):
        if request.method == "GET":
            return _json(fleet.outages())
        if request.method != "POST":
            return _json({"message": "GET or POST"}, 405)
        try:
            body = json.loads(request.get_data() or b"{}")
        except ValueError:
            body = None
        az = body.get("az") if isinstance(body, dict) else None
        down = body.get("down", True) if isinstance(body, dict) else None
        instances = body.get("instances") if isinstance(body, dict) else None
        if not isinstance(az, str) or not _AZ.match(az) or not isinstance(down, bool) or not (
                instances is None or isinstance(instances, list) and all(isinstance(i, str) for i in instances)):
            return _json({"message": 'send {"az": "us-east-1a", "down": true} (or false to bring it back), and '
                                     'optionally "instances": ["i-..."] to take only those dark'}, 400)
        return _json(fleet.set_az(az, down, instances))

    return handle


def _metrics_route(fleet: Fleet):
    def handle(request, match):
        from . import _instance_metrics

        if request.method != "POST":
            return _json({"message": "POST publishes the CPU datapoints now"}, 405)
        return _json({"published": _instance_metrics.publish(fleet)})

    return handle


def _changes_instances(request) -> bool:
    from ..wire import aws_action

    return request.method == "POST" and aws_action(request) in STATE_ACTIONS


def install(server) -> None:
    from . import _instance_metrics, cloudwatch_alarms

    cloudwatch_alarms.TIME_SCALES[_instance_metrics.NAMESPACE] = _instance_metrics.TIME_SCALE

    fleet = Fleet(server)
    server.ec2_web = fleet  # reachable from tests and other extensions
    server.route(None, r"^/_workshop/dataplane/az$", _az_route(fleet))
    server.route(None, r"^/_workshop/dataplane/metrics$", _metrics_route(fleet))
    server.background("ec2-web", fleet.reconcile, RECONCILE_S)
    server.after(_changes_instances, lambda request, response: fleet.reconcile(wait_s=AFTER_CALL_WAIT_S))
    server.background("ec2-web-metrics", lambda: _instance_metrics.publish(fleet), METRIC_INTERVAL_S)
