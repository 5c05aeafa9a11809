"""Make moto create and delete pack stacks the way CloudFormation does.

- Deleting: moto deletes a stack's resources in passes but does not implement
  deletion for route tables, routes, internet gateways or gateway attachments,
  so a stack with its own VPC can never be deleted (DependencyViolation on the
  VPC). Real CloudFormation removes those first; ``apply()`` teaches moto's VPC
  resource to release them before the VPC goes.
- Failing: moto creates resources inside CreateStack, so a resource that fails
  makes CreateStack itself fail and leaves the stack CREATE_IN_PROGRESS forever.
  CloudFormation accepts the stack, records CREATE_FAILED for the resource and
  rolls back; ``apply()`` makes moto do that (events and ROLLBACK_COMPLETE), so
  the sandbox exercises the same failure handling as real AWS.
- Conditional writes: moto checks ``If-Match``/``If-None-Match`` and then stores
  the object without a lock, so two racing writers can both succeed. S3 makes a
  conditional PUT atomic; ``apply()`` serialises moto's PUT Object the same way.
Applied in the sandbox server and in tests that use moto in-process; it changes
nothing on real AWS.
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

    original = VPC.__dict__["delete_from_cloudformation_json"].__func__  # the function under the classmethod

    def delete_from_cloudformation_json(cls: type[VPC], resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str) -> None:
        _release_dependents(ec2_backends[account_id][region_name], resource_name)
        original(cls, resource_name, cloudformation_json, account_id, region_name)

    # monkey-patches (here and below) by setattr: the replacements are not the methods' declared types
    setattr(VPC, "delete_from_cloudformation_json", classmethod(delete_from_cloudformation_json))  # noqa: B010
    _fail_like_cloudformation()
    _atomic_conditional_puts()
    _APPLIED = True


def _atomic_conditional_puts() -> None:
    import threading

    from moto.s3.responses import S3Response

    put_object = S3Response.put_object
    lock = threading.Lock()

    def locked_put_object(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return put_object(self, *args, **kwargs)

    setattr(S3Response, "put_object", locked_put_object)  # noqa: B010


def _fail_like_cloudformation() -> None:
    from moto.cloudformation import parsing
    from moto.cloudformation.models import Event, Stack

    create_resource = parsing.parse_and_create_resource

    def parse_and_create_resource(logical_id: str, resource_json: dict[str, Any], resources_map: Any,
                                  account_id: str, region_name: str) -> Any:
        try:
            return create_resource(logical_id, resource_json, resources_map, account_id, region_name)
        except Exception as exc:
            if not hasattr(exc, "arw_failed_resource"):  # the innermost resource is the one that failed
                setattr(exc, "arw_failed_resource", (logical_id, (resource_json or {}).get("Type", "")))  # noqa: B010
            raise

    parsing.parse_and_create_resource = parse_and_create_resource
    create_resources = Stack.create_resources

    def create_resources_or_roll_back(self: Stack) -> None:
        try:
            create_resources(self)
        except Exception as exc:
            logical_id, resource_type = getattr(exc, "arw_failed_resource", (None, ""))
            code = getattr(exc, "error_type", None) or getattr(exc, "code", None) or type(exc).__name__
            message = getattr(exc, "message", None) or str(exc)
            if logical_id:
                self.events.append(Event(self.stack_id, self.name, logical_id, "", resource_type, "CREATE_FAILED",
                                         f"{code}: {message}", None))
            failed = f"The following resource(s) failed to create: [{logical_id}]." if logical_id else f"{code}: {message}"
            self._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=failed)
            self._add_stack_event("ROLLBACK_COMPLETE")
            self.status = "ROLLBACK_COMPLETE"

    setattr(Stack, "create_resources", create_resources_or_roll_back)  # noqa: B010
