"""Make moto delete pack stacks the way CloudFormation does.

moto deletes a stack's resources in passes but does not implement deletion
for route tables, routes, internet gateways or gateway attachments, so a
stack with its own VPC can never be deleted (DependencyViolation on the
VPC). Real CloudFormation removes those first. ``apply()`` teaches moto's VPC
resource to release them before the VPC goes. Applied in the sandbox server
and in tests that delete stacks in-process; it changes nothing on real AWS.
"""

from __future__ import annotations

from typing import Any

_APPLIED = False


def _release_dependents(backend: Any, vpc_id: str) -> None:
    for igw in backend.describe_internet_gateways(filters={"attachment.vpc-id": [vpc_id]}):
        backend.detach_internet_gateway(igw.id, vpc_id)
        backend.delete_internet_gateway(igw.id)
    for table in backend.describe_route_tables(filters={"vpc-id": [vpc_id]}):
        if table.main_association_id is None:
            for association_id in list(table._associations):
                backend.disassociate_route_table(association_id)
            backend.delete_route_table(table.id)


def apply() -> None:
    global _APPLIED
    if _APPLIED:
        return
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.vpcs import VPC

    original = VPC.delete_from_cloudformation_json.__func__

    def delete_from_cloudformation_json(cls, resource_name, cloudformation_json, account_id, region_name):
        _release_dependents(ec2_backends[account_id][region_name], resource_name)
        original(cls, resource_name, cloudformation_json, account_id, region_name)

    VPC.delete_from_cloudformation_json = classmethod(delete_from_cloudformation_json)
    _APPLIED = True
