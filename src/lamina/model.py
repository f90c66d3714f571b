"""Typed values that cross layers: function configurations, invocation requests and results.

Field names are snake_case forms of botocore's shape names, so mapping to and from the wire
is mechanical (see api/shapes.py).
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

LATEST = "$LATEST"
SNAP_START_PUBLISHED = "PublishedVersions"


class State(enum.StrEnum):
    PENDING = "Pending"
    ACTIVE = "Active"
    INACTIVE = "Inactive"
    FAILED = "Failed"


class UpdateStatus(enum.StrEnum):
    IN_PROGRESS = "InProgress"
    SUCCESSFUL = "Successful"
    FAILED = "Failed"


class InvocationType(enum.StrEnum):
    REQUEST_RESPONSE = "RequestResponse"
    EVENT = "Event"
    DRY_RUN = "DryRun"


@dataclass(frozen=True)
class LayerRef:
    """A function's reference to one layer version, with what it needs even after the layer
    version is deleted (AWS keeps such functions working)."""

    arn: str
    code_sha256: str
    code_size: int
    unzipped_size: int


@dataclass(frozen=True)
class LayerVersion:
    """One published, immutable version of a layer."""

    layer_name: str
    version: int
    code_sha256: str
    code_size: int
    unzipped_size: int
    created_ms: int
    description: str = ""
    compatible_runtimes: tuple[str, ...] = ()
    compatible_architectures: tuple[str, ...] = ()
    license_info: str | None = None

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> LayerVersion:
        values = dict(record)
        values["compatible_runtimes"] = tuple(values.get("compatible_runtimes", ()))
        values["compatible_architectures"] = tuple(values.get("compatible_architectures", ()))
        return cls(**values)


@dataclass(frozen=True)
class FunctionConfig:
    """One function's configuration as stored; the source of every API view of it."""

    name: str
    runtime: str
    role: str
    handler: str
    code_sha256: str
    """Hex SHA-256 of the deployment zip (the wire shows it base64-encoded)."""
    code_size: int
    revision_id: str
    last_modified_ms: int
    description: str = ""
    timeout_s: int = 3
    memory_mb: int = 128
    environment: dict[str, str] | None = None
    architectures: tuple[str, ...] = ("x86_64",)
    ephemeral_storage_mb: int = 512
    tracing_mode: str = "PassThrough"
    log_format: str = "Text"
    log_group: str | None = None
    application_log_level: str | None = None
    system_log_level: str | None = None
    kms_key_arn: str | None = None
    tags: dict[str, str] | None = None
    reserved_concurrency: int | None = None
    dead_letter_target_arn: str | None = None
    last_published_version: int = 0
    """The highest version number ever published ($LATEST only); numbers are never reused."""
    source_fingerprint: str | None = None
    """On a published version: ``publish_fingerprint`` of the $LATEST it was published from."""
    layers: tuple[LayerRef, ...] = ()
    """The layer versions merged under /opt, in order (later ones win)."""
    snap_start_apply_on: str = "None"
    """SnapStart's ``ApplyOn``: ``PublishedVersions`` or ``None``; a version keeps the value
    $LATEST had when it was published."""
    version: str = LATEST
    state: State = State.PENDING
    state_reason: str | None = "The function is being created."
    state_reason_code: str | None = "Creating"
    last_update_status: UpdateStatus | None = None
    last_update_status_reason: str | None = None
    last_update_status_reason_code: str | None = None

    @property
    def log_group_name(self) -> str:
        return self.log_group or f"/aws/lambda/{self.name}"

    @property
    def snap_start_optimized(self) -> bool:
        """SnapStart's ``OptimizationStatus`` is On: a version published with SnapStart, whose
        environments are restored from a snapshot taken after its init."""
        return self.version != LATEST and self.snap_start_apply_on == SNAP_START_PUBLISHED

    @functools.cached_property
    def runtime_fingerprint(self) -> str:
        """A digest of everything an execution environment is built from.

        Warm environments are reused only while this is unchanged; any change of code or
        configuration that an environment sees (handler, memory, environment variables …)
        gives new environments.
        """
        parts = [
            self.code_sha256,
            self.runtime,
            self.handler,
            str(self.timeout_s),
            str(self.memory_mb),
            str(self.ephemeral_storage_mb),
            json.dumps(self.environment or {}, sort_keys=True),
            self.log_group_name,
            self.log_format,
            self.version,
            *(layer.code_sha256 for layer in self.layers),
        ]
        return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]

    def publish_fingerprint(self) -> str:
        """What makes a new version: code and every setting a version captures."""
        record = self.to_record()
        for volatile in (
            "revision_id", "last_modified_ms", "state", "state_reason", "state_reason_code",
            "last_update_status", "last_update_status_reason", "last_update_status_reason_code",
            "version", "tags", "reserved_concurrency", "last_published_version",
            "source_fingerprint",
        ):  # fmt: skip
            record.pop(volatile, None)
        return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()

    def to_record(self) -> dict[str, Any]:
        """A JSON-safe dict for storage."""
        record = asdict(self)
        record["architectures"] = list(self.architectures)
        return record

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> FunctionConfig:
        values = dict(record)
        values["architectures"] = tuple(values.get("architectures", ("x86_64",)))
        values["layers"] = tuple(LayerRef(**layer) for layer in values.get("layers", ()))
        values["state"] = State(values["state"])
        if values.get("last_update_status") is not None:
            values["last_update_status"] = UpdateStatus(values["last_update_status"])
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass(frozen=True)
class Alias:
    """A name for a version of a function, with an optional weighted second version."""

    function_name: str
    name: str
    function_version: str
    revision_id: str
    description: str = ""
    routing: dict[str, float] | None = None
    """Additional version → weight (0.0–1.0) of the traffic it gets."""

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Alias:
        return cls(**record)


@dataclass(frozen=True)
class FunctionUrlConfig:
    """A function URL: a dedicated HTTP endpoint for a function or one of its aliases."""

    url_id: str
    """32 lower-case letters and digits: the first label of the URL's host name."""
    function_name: str
    qualifier: str
    """The alias the URL invokes, or '' for the unqualified function."""
    auth_type: str
    """``NONE`` or ``AWS_IAM``."""
    creation_time: str
    last_modified_time: str
    cors: dict[str, Any] | None = None
    """The Cors structure as the API shows it (AllowOrigins, AllowMethods …), or None."""
    invoke_mode: str = "BUFFERED"

    def to_record(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> FunctionUrlConfig:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in record.items() if k in known})


class ResponseSink(Protocol):
    """Where a streamed response goes as the function writes it (InvokeWithResponseStream,
    function URLs in RESPONSE_STREAM mode). Called on the event loop; must not block."""

    def begin(self, executed_version: str) -> None:
        """The invocation has an environment and is about to run ``executed_version``."""

    def write(self, data: bytes, content_type: str | None) -> None:
        """Bytes of the response, in order; ``content_type`` as the function set it, if known."""


@dataclass(frozen=True)
class ProvisionedConfig:
    """A provisioned concurrency configuration as stored: the request, not its progress."""

    function_name: str
    qualifier: str
    """A version number or an alias name."""
    requested: int
    last_modified_ms: int


@dataclass(frozen=True)
class InvokeRequest:
    """A parsed Invoke call, free of HTTP."""

    function_name: str
    qualifier: str | None
    payload: bytes
    invocation_type: InvocationType = InvocationType.REQUEST_RESPONSE
    tail_log: bool = False
    client_context: str | None = None
    """The decoded JSON text of the ``X-Amz-Client-Context`` header."""
    request_id: str = ""
    trace_id: str | None = None
    """The caller's ``X-Amzn-Trace-Id``; one is made when there is none, as AWS does."""
    stream: ResponseSink | None = None
    """Set for a streamed response: chunks go there as they come, not into the result."""


@dataclass(frozen=True)
class InvokeResult:
    """What one invocation produced; a function error is data, not an exception."""

    request_id: str
    status: int
    payload: bytes = b""
    function_error: str | None = None
    executed_version: str | None = None
    log_tail: bytes | None = None


@dataclass(frozen=True)
class Execution:
    """What ran inside an environment, as measured by it: the basis of REPORT lines and bills."""

    payload: bytes
    error_type: str | None = None
    duration_ms: float = 0.0
    init_duration_ms: float | None = None
    restore_duration_ms: float | None = None
    """Set on the first invocation of an environment restored from a SnapStart snapshot."""
    max_memory_mb: int = 0
    status: str | None = None
    """``timeout``, ``error`` or None, as the REPORT line's ``Status`` field."""
    log: list[str] = field(default_factory=list)
