"""EC2: an instance type (or its user data) can change only while the instance is stopped, as on AWS.

moto 5.2.5 lets `modify_instance_attribute(InstanceType=...)` change a running instance.
AWS refuses with IncorrectInstanceState ("The instance 'i-…' is not in the 'stopped'
state."; EC2 User Guide, "Change the instance type": stop, change, start; the same for user
data, "Modify instance user data"). Stages 2 and 3 teach exactly that sequence, so the local
AWS refuses too.

moto 5.2.5 also refuses every `ModifyInstanceAttribute(UserData=...)` sent by boto3 ("Invalid
BASE64 encoding": it base64-decodes the already decoded blob); here the bytes are stored as sent.

moto 5.2.5 also drops an Elastic IP's address from the instance at a stop and gives it a random
public IP at the start, while the address still says it is associated. On AWS "the Elastic IP
address remains in place through events that normally cause the address to change, such as
stopping or restarting the instance" (AWS Knowledge Center, "What is an Elastic IP address?";
EC2 User Guide, "Elastic IP addresses"): `www` -> Elastic IP -> instance must survive a resize.
"""

from __future__ import annotations

import base64


def _modify(original):
    def modify_instance_attribute(self, instance_id, key, value):
        from moto.ec2.exceptions import EC2ClientError

        if key in ("instance_type", "user_data"):
            instance = self.get_instance(instance_id)
            if instance.state != "stopped":
                raise EC2ClientError("IncorrectInstanceState",
                                     f"The instance '{instance_id}' is not in the 'stopped' state.")
        return original(self, instance_id, key, value)

    return modify_instance_attribute


def _parse_user_data(original):
    def parse_user_data(value):
        # ModifyInstanceAttribute's UserData.Value is a blob: moto hands over the decoded bytes (the
        # user data itself) and then refuses them as "Invalid BASE64"; AWS stores them as given
        if isinstance(value, bytes):
            from moto.core.types import Base64EncodedString

            return Base64EncodedString(base64.b64encode(value).decode("ascii"))
        return original(value)

    return parse_user_data


def _elastic_ip(nic):
    """The Elastic IP associated with this network interface, or None."""
    return next((a for a in list(nic.ec2_backend.addresses) if a.eni is nic), None)


def _keeping_elastic_ip(original):
    def stop_or_start(self):
        address = _elastic_ip(self)
        if address is None:
            return original(self)
        self.public_ip = address.public_ip

    return stop_or_start


def patches(moto) -> None:
    """Called once per process by the server, after its moto version check."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface
    from moto.ec2.models.instances import InstanceBackend
    from moto.ec2.responses import instances as responses

    InstanceBackend.modify_instance_attribute = _modify(InstanceBackend.modify_instance_attribute)
    responses.parse_user_data = _parse_user_data(responses.parse_user_data)
    NetworkInterface.stop = _keeping_elastic_ip(NetworkInterface.stop)
    NetworkInterface.start = _keeping_elastic_ip(NetworkInterface.start)
