"""EC2: an instance type can change only while the instance is stopped, as on AWS.

moto 5.2.5 lets `modify_instance_attribute(InstanceType=...)` change a running instance.
AWS refuses with IncorrectInstanceState ("The instance 'i-…' is not in the 'stopped'
state."; EC2 User Guide, "Change the instance type": stop, change, start). Stage 2
teaches exactly that sequence, so the local AWS refuses too.
"""

from __future__ import annotations


def _modify(original):
    def modify_instance_attribute(self, instance_id, key, value):
        from moto.ec2.exceptions import EC2ClientError

        if key == "instance_type":
            instance = self.get_instance(instance_id)
            if instance.state != "stopped":
                raise EC2ClientError("IncorrectInstanceState",
                                     f"The instance '{instance_id}' is not in the 'stopped' state.")
        return original(self, instance_id, key, value)

    return modify_instance_attribute


def patches(moto) -> None:
    """Called once per process by the server, after its moto version check."""
    from moto.ec2.models.instances import InstanceBackend

    InstanceBackend.modify_instance_attribute = _modify(InstanceBackend.modify_instance_attribute)
