"""The one error hierarchy of lamina.

Errors that reach a client are named exactly as AWS names them on the wire, because that
name is what boto3 and the AWS CLI show the user::

    LaminaError                      status, error_type, message; rendered by api/errors.py
    ├── InvalidParameterValueException   400
    ├── ValidationException              400  (body carries only the message)
    ├── InvalidRequestContentException   400
    ├── AccessDeniedException            403
    ├── ResourceNotFoundException        404  (body key "Message", capitalised as AWS does)
    ├── CodeSigningConfigNotFoundException 404
    ├── ProvisionedConcurrencyConfigNotFoundException 404
    ├── UnknownOperationException        404
    ├── ResourceConflictException        409
    ├── SnapStartNotReadyException       409  (a SnapStart version still making its snapshot)
    ├── SnapStartTimeoutException        408  (a restore, after-restore hooks included, timed out)
    ├── SnapStartException               400  (an after-restore hook failed)
    ├── PreconditionFailedException      412
    ├── RequestEntityTooLargeException   413
    ├── UnsupportedMediaTypeException    415
    ├── TooManyRequestsException         429
    ├── ServiceException                 500
    └── NotImplementedException          501  (an operation of the model lamina lacks)

Internal errors that never travel on the wire end in ``Error`` and derive from
``InternalError``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LaminaError(Exception):
    """An error with an AWS wire type and HTTP status."""

    status: ClassVar[int] = 500
    message_key: ClassVar[str] = "message"
    user_type: ClassVar[str | None] = "User"

    def __init__(self, message: str, *, typed: bool = True, **extra: Any) -> None:
        """``typed=False`` leaves ``Type`` out of the body, as some AWS answers do."""
        super().__init__(message)
        self.message = message
        self.typed = typed
        self.extra = extra

    @property
    def error_type(self) -> str:
        return type(self).__name__

    def body(self) -> dict[str, Any]:
        """The JSON document AWS sends for this error."""
        doc: dict[str, Any] = {}
        if self.user_type is not None and self.typed:
            doc["Type"] = self.user_type
        doc[self.message_key] = self.message
        doc.update(self.extra)
        return doc


class InvalidParameterValueException(LaminaError):
    status = 400


class ValidationException(LaminaError):
    status = 400
    user_type = None


class InvalidRequestContentException(LaminaError):
    status = 400


class AccessDeniedException(LaminaError):
    status = 403
    message_key = "Message"


class ResourceNotFoundException(LaminaError):
    status = 404
    message_key = "Message"


class CodeSigningConfigNotFoundException(LaminaError):
    status = 404
    message_key = "Message"


class ProvisionedConcurrencyConfigNotFoundException(LaminaError):
    status = 404


class UnknownOperationException(LaminaError):
    status = 404
    user_type = None


class ResourceConflictException(LaminaError):
    status = 409


class SnapStartNotReadyException(LaminaError):
    status = 409


class SnapStartTimeoutException(LaminaError):
    status = 408


class SnapStartException(LaminaError):
    status = 400


class PreconditionFailedException(LaminaError):
    status = 412


class RequestEntityTooLargeException(LaminaError):
    status = 413


class UnsupportedMediaTypeException(LaminaError):
    status = 415


class TooManyRequestsException(LaminaError):
    status = 429


class ServiceException(LaminaError):
    status = 500
    user_type = "Service"


class NotImplementedException(LaminaError):
    status = 501
    user_type = None


class InternalError(Exception):
    """Base of errors that stay inside lamina."""


class SandboxError(InternalError):
    """An execution environment could not be created or has failed."""


class EnvironmentGoneError(InternalError):
    """An execution environment died or was destroyed while it was being used."""
