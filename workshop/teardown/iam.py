"""IAM kinds (global): roles and instance profiles, then customer-managed policies once no role holds them."""

from __future__ import annotations

from botocore.exceptions import ClientError

from .. import tags
from .kind import GUARDS, LEFTOVERS, Kind
from .shapes import gone_when_absent, is_gone, paginate


def _find_roles(scope):
    iam = scope.client("iam")
    for role in paginate(iam, "list_roles", "Roles"):
        name = role["RoleName"]
        if role.get("Path", "/").startswith("/aws-service-role/"):
            continue
        # list_roles carries no tags: ask only for the roles that can be the course's
        t = iam.list_role_tags(RoleName=name).get("Tags", []) if name.startswith(tags.prefix()) or \
            scope.stage is not None else []
        r = scope.owned(t, name, name, data=role)
        if r:
            yield r


def _delete_role(scope, r):
    iam = scope.client("iam")
    for p in paginate(iam, "list_attached_role_policies", "AttachedPolicies", RoleName=r.id):
        iam.detach_role_policy(RoleName=r.id, PolicyArn=p["PolicyArn"])
    for p in paginate(iam, "list_role_policies", "PolicyNames", RoleName=r.id):
        iam.delete_role_policy(RoleName=r.id, PolicyName=p)
    for prof in paginate(iam, "list_instance_profiles_for_role", "InstanceProfiles", RoleName=r.id):
        iam.remove_role_from_instance_profile(InstanceProfileName=prof["InstanceProfileName"], RoleName=r.id)
    try:
        iam.delete_role(RoleName=r.id)
    except ClientError as exc:
        if not is_gone(exc):
            raise


def _find_instance_profiles(scope):
    for p in paginate(scope.client("iam"), "list_instance_profiles", "InstanceProfiles"):
        r = scope.owned(p.get("Tags"), p["InstanceProfileName"], p["InstanceProfileName"], data=p)
        if r:
            yield r


def _delete_instance_profile(scope, r):
    iam = scope.client("iam")
    for role in r.data.get("Roles", []):
        iam.remove_role_from_instance_profile(InstanceProfileName=r.id, RoleName=role["RoleName"])
    iam.delete_instance_profile(InstanceProfileName=r.id)


def _find_policies(scope):
    iam = scope.client("iam")
    for p in paginate(iam, "list_policies", "Policies", Scope="Local"):
        t = p.get("Tags")
        if scope.stage is not None and not tags.is_course(t) and p["PolicyName"].startswith(tags.prefix()):
            t = iam.list_policy_tags(PolicyArn=p["Arn"]).get("Tags", [])  # a stage teardown goes by tags only
        r = scope.owned(t, p["PolicyName"], p["Arn"], data=p)
        if r:
            yield r


def _delete_policy(scope, r):
    iam = scope.client("iam")
    ents = iam.list_entities_for_policy(PolicyArn=r.id)
    for g in ents.get("PolicyGroups", []):
        iam.detach_group_policy(GroupName=g["GroupName"], PolicyArn=r.id)
    for u in ents.get("PolicyUsers", []):
        iam.detach_user_policy(UserName=u["UserName"], PolicyArn=r.id)
    for ro in ents.get("PolicyRoles", []):
        iam.detach_role_policy(RoleName=ro["RoleName"], PolicyArn=r.id)
    for v in iam.list_policy_versions(PolicyArn=r.id).get("Versions", []):
        if not v["IsDefaultVersion"]:
            iam.delete_policy_version(PolicyArn=r.id, VersionId=v["VersionId"])
    iam.delete_policy(PolicyArn=r.id)


def _policy_holders(scope, r) -> str:
    ents = scope.client("iam").list_entities_for_policy(PolicyArn=r.id)
    return ", ".join([x["RoleName"] for x in ents.get("PolicyRoles", [])]
                     + [x["UserName"] for x in ents.get("PolicyUsers", [])])


KINDS = [
    Kind("iam role", "iam", LEFTOVERS, _find_roles, _delete_role, gone_when_absent("iam", "get_role", "RoleName"),
         global_=True),
    Kind("iam instance profile", "iam", LEFTOVERS, _find_instance_profiles, _delete_instance_profile,
         gone_when_absent("iam", "get_instance_profile", "InstanceProfileName"), global_=True),
    Kind("iam policy", "iam", GUARDS, _find_policies, _delete_policy,
         gone_when_absent("iam", "get_policy", "PolicyArn"), global_=True, holder=_policy_holders),
]
