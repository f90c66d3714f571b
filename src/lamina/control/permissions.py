"""Resource-based policies: AddPermission, RemovePermission, GetPolicy, and the check on invoke.

Statements are kept per function and qualifier (a version or an alias; AWS refuses $LATEST),
in AWS's policy document shape. The policy's RevisionId is the function's: adding or removing
a statement gives the function a new one.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lamina import arns
from lamina.control.functions import FunctionRegistry
from lamina.errors import (
    InvalidParameterValueException,
    PreconditionFailedException,
    ResourceConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from lamina.model import LATEST
from lamina.store import Store

SID_PATTERN = r"([a-zA-Z0-9-_]+)"
ACTION_PATTERN = r"(lambda:[*]|lambda:[a-zA-Z]+|[*])"
_SERVICE = re.compile(r"[a-z0-9.-]+\.amazonaws\.com(\.cn)?")
_ACCOUNT = re.compile(r"\d{12}")
_IAM_ARN = re.compile(r"arn:aws[a-zA-Z-]*:iam::\d{12}:[a-zA-Z0-9+=,.@_/-]+")
_CONDITIONS = (
    ("SourceArn", "ArnLike", "AWS:SourceArn"),
    ("SourceAccount", "StringEquals", "AWS:SourceAccount"),
    ("PrincipalOrgID", "StringEquals", "aws:PrincipalOrgID"),
    ("EventSourceToken", "StringEquals", "lambda:EventSourceToken"),
    ("FunctionUrlAuthType", "StringEquals", "lambda:FunctionUrlAuthType"),
)


class PermissionControl:
    def __init__(self, registry: FunctionRegistry, store: Store) -> None:
        self.registry = registry
        self.store = store

    async def add(
        self, name_param: str, qualifier: str | None, body: Mapping[str, Any]
    ) -> dict[str, str]:
        name, qualifier = await self._target(name_param, qualifier)
        latest = await self.registry.existing(name)
        _check_revision(latest.revision_id, body.get("RevisionId"))
        sid = _sid(body.get("StatementId"))
        statements = await self.store.get_policy(name, qualifier or "")
        if any(s["Sid"] == sid for s in statements):
            raise ResourceConflictException(
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement."
            )
        statement = _statement(sid, body, self.registry.arn(name, qualifier))
        await self.store.put_policy(name, qualifier or "", [*statements, statement])
        await self.registry.save_quietly(latest, latest)
        return {"Statement": json.dumps(statement)}

    async def remove(
        self, name_param: str, sid: str, qualifier: str | None, revision_id: str | None
    ) -> None:
        name, qualifier = await self._target(name_param, qualifier)
        latest = await self.registry.existing(name)
        _check_revision(latest.revision_id, revision_id)
        statements = await self.store.get_policy(name, qualifier or "")
        if not statements:
            raise ResourceNotFoundException("No policy is associated with the given resource.")
        kept = [s for s in statements if s["Sid"] != sid]
        if len(kept) == len(statements):
            raise ResourceNotFoundException(f"Statement {sid} is not found in resource policy.")
        await self.store.put_policy(name, qualifier or "", kept)
        await self.registry.save_quietly(latest, latest)

    async def get(self, name_param: str, qualifier: str | None) -> dict[str, str]:
        name, qualifier = await self._target(name_param, qualifier, reading=True)
        statements = await self.store.get_policy(name, qualifier or "")
        if not statements:
            raise ResourceNotFoundException("The resource you requested does not exist.")
        latest = await self.registry.existing(name)
        policy = {"Version": "2012-10-17", "Id": "default", "Statement": statements}
        return {"Policy": json.dumps(policy), "RevisionId": latest.revision_id}

    async def grants(
        self,
        name: str,
        qualifier: str | None,
        caller: str | None,
        action: str,
        context: Mapping[str, str] | None = None,
    ) -> bool:
        """Whether the policy lets ``caller`` (an IAM ARN, None for an anonymous caller)
        perform ``action``. A statement with a Condition applies only when every key it names
        is in ``context`` (lower-case condition keys → the request's values) with a value it
        accepts: ``lambda:FunctionUrlAuthType`` for function URLs, for example."""
        request = Caller(caller, _account(caller), action, context or {})
        for scope in {qualifier or "", ""}:
            for statement in await self.store.get_policy(name, scope):
                if _matches(statement, request):
                    return True
        return False

    async def _target(
        self, name_param: str, qualifier: str | None, *, reading: bool = False
    ) -> tuple[str, str | None]:
        name, qualifier = self.registry.reference(name_param, qualifier)
        if qualifier == LATEST and not reading:
            raise InvalidParameterValueException(
                "We currently do not support adding policies for $LATEST."
            )
        await self.registry.view(name, qualifier)
        return name, qualifier


def _statement(sid: str, body: Mapping[str, Any], resource: str) -> dict[str, Any]:
    action = body.get("Action")
    if not isinstance(action, str) or not re.fullmatch(ACTION_PATTERN, action):
        raise ValidationException(
            arns.validation_message(
                str(action),
                "action",
                f"Member must satisfy regular expression pattern: {ACTION_PATTERN}",
            )
        )
    statement: dict[str, Any] = {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": _principal(body.get("Principal")),
        "Action": action,
        "Resource": resource,
    }
    condition: dict[str, dict[str, str]] = {}
    auth_type = body.get("FunctionUrlAuthType")
    if auth_type is not None and auth_type not in ("NONE", "AWS_IAM"):
        raise ValidationException(
            arns.validation_message(
                str(auth_type),
                "functionUrlAuthType",
                "Member must satisfy enum value set: [AWS_IAM, NONE]",
            )
        )
    for member, operator, key in _CONDITIONS:
        if body.get(member):
            condition.setdefault(operator, {})[key] = str(body[member])
    if body.get("InvokedViaFunctionUrl"):
        condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
    if condition:
        statement["Condition"] = condition
    return statement


def _principal(value: object) -> Any:
    if value == "*":
        return "*"
    if isinstance(value, str) and _SERVICE.fullmatch(value):
        return {"Service": value}
    if isinstance(value, str) and _ACCOUNT.fullmatch(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if isinstance(value, str) and _IAM_ARN.fullmatch(value):
        return {"AWS": value}
    raise InvalidParameterValueException(
        "The provided principal was invalid. Please check the principal and try again."
    )


def _sid(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= 100
        or not re.fullmatch(SID_PATTERN, value)
    ):
        raise ValidationException(
            arns.validation_message(
                str(value),
                "statementId",
                f"Member must satisfy regular expression pattern: {SID_PATTERN}",
            )
        )
    return value


def _check_revision(current: str, given: object) -> None:
    if given is not None and given != current:
        raise PreconditionFailedException(
            "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy "
            "API to retrieve the latest Revision Id"
        )


def _account(caller: str | None) -> str | None:
    if caller is None:
        return None
    return caller.split(":")[4] if caller.count(":") >= 5 else caller


@dataclass(frozen=True)
class Caller:
    """Who asks for what, with the request's condition keys (lower-case names)."""

    principal: str | None
    account: str | None
    action: str
    context: Mapping[str, str]


def _matches(statement: Mapping[str, Any], caller: Caller) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if statement.get("Action") not in (caller.action, "lambda:*", "*"):
        return False
    if not _conditions_hold(statement.get("Condition"), caller.context):
        return False
    principal = statement.get("Principal")
    if principal == "*":
        return True
    allowed = principal.get("AWS") if isinstance(principal, Mapping) else None
    return caller.principal is not None and allowed in (
        caller.principal,
        f"arn:aws:iam::{caller.account}:root",
    )


def _conditions_hold(condition: object, context: Mapping[str, str]) -> bool:
    """Every condition of the statement is met by the request's keys; unknown operators and
    keys the request lacks are not met, so a statement never applies by accident."""
    if not condition:
        return True
    if not isinstance(condition, Mapping):
        return False
    for operator, pairs in condition.items():
        if not isinstance(pairs, Mapping):
            return False
        for key, expected in pairs.items():
            actual = context.get(str(key).lower())
            if actual is None or not _compare(operator, actual, expected):
                return False
    return True


def _compare(operator: str, actual: str, expected: object) -> bool:
    values = expected if isinstance(expected, list) else [expected]
    if operator == "StringEquals":
        return actual in values
    if operator == "Bool":
        return actual.lower() in (str(v).lower() for v in values)
    if operator == "ArnLike":
        return any(fnmatch.fnmatchcase(actual, str(v)) for v in values)
    return False
