"""ELBv2 target health that follows the instances' state, as AWS reports it.

moto 5.2.5 reports any registered target `healthy` unless its instance is stopped: an id
with no instance behind it, an instance still pending, one shutting down or terminated
by Auto Scaling (which bypasses EC2's TerminateInstances hook) all show `healthy`.
With this extension, for instance targets:

| instance state           | state reported | reason                          |
|--------------------------|----------------|---------------------------------|
| running                  | healthy        |                                 |
| pending                  | initial        | Elb.RegistrationInProgress      |
| stopping, stopped        | unused         | Target.InvalidState             |
| shutting-down, terminated| draining, then the target leaves the group (AWS deregisters terminated instances) |
| no such instance         | register_targets refused: InvalidTarget (as AWS documents for RegisterTargets) |

State and reason codes are AWS's (ELBv2 API reference, TargetHealth). A running instance
whose web server answers on the data plane is checked over HTTP instead (`elbv2_dataplane`,
`_elbv2_probes`): its state is that check's verdict (initial, healthy, or unhealthy with
Target.FailedHealthChecks / Target.Timeout / Target.ResponseCodeMismatch). A running
instance with nothing listening for it keeps the table's `healthy`.
"""

from __future__ import annotations

from . import _elbv2_probes


def _health_for(original):
    def health_for(self, target, ec2_backend):
        from moto.elbv2.models import FakeHealthStatus

        registered = self.targets.get(target["Id"])
        if registered is None or not registered["Id"].startswith("i-"):
            return original(self, target, ec2_backend)
        instance = ec2_backend.get_instance_by_id(registered["Id"])
        port, check_port = registered["Port"], self.health_check_port
        state = instance.state if instance is not None else "terminated"
        if state in ("shutting-down", "terminated"):
            self.targets.pop(registered["Id"], None)
            self.terminated_targets[registered["Id"]] = registered
            return FakeHealthStatus(registered["Id"], port, check_port, "draining",
                                    "Target.DeregistrationInProgress", "Target deregistration is in progress")
        if state == "pending":
            return FakeHealthStatus(registered["Id"], port, check_port, "initial",
                                    "Elb.RegistrationInProgress", "Target registration is in progress")
        if state in ("stopping", "stopped"):
            return FakeHealthStatus(registered["Id"], port, check_port, "unused",
                                    "Target.InvalidState", f"Target is in the {state} state")
        checked = _elbv2_probes.verdict(self.arn, registered["Id"])
        if checked is not None:
            return FakeHealthStatus(registered["Id"], port, check_port, checked.state, checked.reason,
                                    checked.description)
        return FakeHealthStatus(registered["Id"], port, check_port, "healthy")

    return health_for


def _register(original):
    def register(self, targets):
        from moto.elbv2.exceptions import InvalidTargetError

        for target in targets:
            if target["Id"].startswith("i-") and self.ec2_backend.get_instance_by_id(target["Id"]) is None:
                raise InvalidTargetError()
            instance = self.ec2_backend.get_instance_by_id(target["Id"]) if target["Id"].startswith("i-") else None
            if instance is not None and instance.state in ("shutting-down", "terminated"):
                raise InvalidTargetError()
        original(self, targets)
        for target in targets:
            self.terminated_targets.pop(target["Id"], None)

    return register


def patches(moto) -> None:
    """Called once per process by the server, after its moto version check."""
    from moto.elbv2.models import FakeTargetGroup

    FakeTargetGroup.health_for = _health_for(FakeTargetGroup.health_for)
    FakeTargetGroup.register = _register(FakeTargetGroup.register)
