"""The stack state machine: every CloudFormation status ends somewhere, rollbacks included."""

import pytest

from registry_tools.aws.stack_status import (
    FAILED,
    IN_PROGRESS,
    SUCCEEDED,
    classify_create,
    classify_delete,
    failure_of,
)


@pytest.mark.parametrize("status,expected", [
    ("CREATE_IN_PROGRESS", IN_PROGRESS),
    ("CREATE_COMPLETE", SUCCEEDED),
    ("CREATE_FAILED", FAILED),
    ("ROLLBACK_IN_PROGRESS", FAILED),
    ("ROLLBACK_COMPLETE", FAILED),
    ("ROLLBACK_FAILED", FAILED),
    ("DELETE_IN_PROGRESS", FAILED),
    ("DELETE_COMPLETE", FAILED),
    ("DELETE_FAILED", FAILED),
    ("UPDATE_ROLLBACK_COMPLETE", FAILED),
    ("REVIEW_IN_PROGRESS", IN_PROGRESS),
])
def test_classify_create(status, expected):
    assert classify_create(status) == expected


def test_classify_delete():
    assert classify_delete("DELETE_IN_PROGRESS") == IN_PROGRESS
    assert classify_delete("DELETE_COMPLETE") == SUCCEEDED
    assert classify_delete("DELETE_FAILED") == FAILED


def test_failure_names_the_first_failed_resource():
    events = [  # newest first, as AWS returns them
        {"LogicalResourceId": "stack", "ResourceStatus": "ROLLBACK_COMPLETE"},
        {"LogicalResourceId": "Bucket", "ResourceType": "AWS::S3::Bucket", "ResourceStatus": "DELETE_COMPLETE"},
        {"LogicalResourceId": "Instance", "ResourceType": "AWS::EC2::Instance", "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "Resource creation cancelled"},
        {"LogicalResourceId": "Role", "ResourceType": "AWS::IAM::Role", "ResourceStatus": "CREATE_FAILED",
         "ResourceStatusReason": "API: iam:CreateRole User is not authorized"},
    ]
    failure = failure_of(events, "stack", "ROLLBACK_COMPLETE", "The following resource(s) failed to create")
    assert failure.resource == "Role" and "not authorized" in failure.reason
    assert str(failure).startswith("Role (AWS::IAM::Role): ")


def test_failure_without_resource_events_uses_the_stack_reason():
    failure = failure_of([], "stack", "CREATE_FAILED", "Template error")
    assert failure.resource is None and str(failure) == "Template error"
