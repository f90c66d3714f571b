"""Checks on function settings: which input gets which of AWS's errors, with which message."""

import json
from pathlib import Path

import pytest

from lamina.control import validation as check
from lamina.errors import InvalidParameterValueException, ValidationException
from lamina.runtimes import Runtime, RuntimeCatalog

CATALOG = RuntimeCatalog(
    [
        Runtime("python3.12", Path("/usr/bin/python3.12")),
        Runtime("python3.13", Path("/usr/bin/python3.13")),
    ]
)
ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ENV_PREFIX = "Lambda was unable to configure your environment variables because the environment "


# -- runtime -------------------------------------------------------------------------------


def test_available_runtime_is_accepted():
    assert check.check_runtime("python3.12", CATALOG) == "python3.12"


@pytest.mark.parametrize("runtime", ["python2.99", "PYTHON3.12", "Python3.12", "", None, 3.12])
def test_runtime_outside_aws_enum_is_invalid_parameter_with_aws_message(runtime):
    with pytest.raises(InvalidParameterValueException) as info:
        check.check_runtime(runtime, CATALOG)

    message = info.value.message
    assert message.startswith(
        f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        "value set: [nodejs, nodejs4.3, "
    )
    assert message.endswith(", custom] or be a valid ARN")


@pytest.mark.parametrize("runtime", ["python3.7", "python2.7", "java8", "nodejs12.x", "go1.x"])
def test_deprecated_runtime_is_invalid_parameter_saying_it_is_no_longer_supported(runtime):
    with pytest.raises(InvalidParameterValueException) as info:
        check.check_runtime(runtime, CATALOG)

    assert info.value.message.startswith(
        f"The runtime parameter of {runtime} is no longer supported for creating or updating "
        "AWS Lambda functions."
    )


@pytest.mark.parametrize("runtime", ["java21", "nodejs20.x", "python3.11"])
def test_runtime_aws_knows_but_this_host_lacks_names_the_available_runtimes(runtime):
    with pytest.raises(InvalidParameterValueException) as info:
        check.check_runtime(runtime, CATALOG)

    assert runtime in info.value.message
    assert info.value.message.endswith("Available runtimes: python3.12, python3.13.")


def test_runtime_check_on_a_host_without_runtimes_says_none_are_available():
    with pytest.raises(InvalidParameterValueException) as info:
        check.check_runtime("python3.12", RuntimeCatalog([]))

    assert info.value.message.endswith("Available runtimes: none.")


# -- role and handler ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "role",
    [
        ROLE,
        "arn:aws:iam::123456789012:role/service-role/my-role_1+=,.@",
        "arn:aws-cn:iam::123456789012:role/r",
    ],
)
def test_role_matching_the_role_arn_pattern_is_accepted(role):
    assert check.check_role(role) == role


@pytest.mark.parametrize(
    "role",
    [
        "r1",
        "arn:aws:iam::00000000000:role/short-account",
        "arn:aws:iam::000000000000:user/someone",
        "arn:aws:sts::000000000000:role/r",
        None,
    ],
)
def test_role_not_matching_the_pattern_is_a_validation_error(role):
    with pytest.raises(ValidationException) as info:
        check.check_role(role)

    assert info.value.message == (
        f"1 validation error detected: Value '{role}' at 'role' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {check.ROLE_PATTERN}"
    )


@pytest.mark.parametrize("handler", ["handler.handler", "pkg/mod.fn", "a", "x" * 128])
def test_handler_without_whitespace_is_accepted(handler):
    assert check.check_handler(handler) == handler


@pytest.mark.parametrize("handler", ["my handler.fn", "handler.fn ", "\thandler.fn", "a\nb", ""])
def test_handler_with_whitespace_or_empty_is_a_validation_error(handler):
    with pytest.raises(ValidationException) as info:
        check.check_handler(handler)

    assert "at 'handler' failed to satisfy constraint" in info.value.message


def test_handler_longer_than_128_is_a_validation_error():
    with pytest.raises(ValidationException) as info:
        check.check_handler("h" * 129)

    assert info.value.message.endswith("Member must have length less than or equal to 128")


# -- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("memory", [128, 129, 1024, 10240])
def test_memory_size_within_128_to_10240_is_accepted(memory):
    assert check.check_memory(memory) == memory


@pytest.mark.parametrize(
    ("memory", "constraint"),
    [
        (127, "Member must have value greater than or equal to 128"),
        (0, "Member must have value greater than or equal to 128"),
        (10241, "Member must have value less than or equal to 10240"),
    ],
)
def test_memory_size_out_of_range_is_invalid_parameter(memory, constraint):
    with pytest.raises(InvalidParameterValueException) as info:
        check.check_memory(memory)

    assert info.value.message == (
        f"1 validation error detected: Value '{memory}' at 'memorySize' failed to satisfy "
        f"constraint: {constraint}"
    )


@pytest.mark.parametrize("timeout", [1, 3, 900])
def test_timeout_within_1_to_900_is_accepted(timeout):
    assert check.check_timeout(timeout) == timeout


@pytest.mark.parametrize("timeout", [0, -1, 901])
def test_timeout_out_of_range_is_invalid_parameter(timeout):
    with pytest.raises(InvalidParameterValueException) as info:
        check.check_timeout(timeout)

    assert f"Value '{timeout}' at 'timeout' failed to satisfy constraint" in info.value.message


@pytest.mark.parametrize("value", [True, "256", 256.0, None])
def test_a_number_that_is_not_an_integer_is_a_validation_error(value):
    with pytest.raises(ValidationException):
        check.check_memory(value)


@pytest.mark.parametrize("size", [512, 10240])
def test_ephemeral_storage_within_512_to_10240_is_accepted(size):
    assert check.check_ephemeral_storage({"Size": size}) == size


@pytest.mark.parametrize("size", [511, 10241])
def test_ephemeral_storage_out_of_range_is_invalid_parameter(size):
    with pytest.raises(InvalidParameterValueException) as info:
        check.check_ephemeral_storage({"Size": size})

    assert "at 'ephemeralStorage.size'" in info.value.message


def test_ephemeral_storage_that_is_not_an_object_is_a_validation_error():
    with pytest.raises(ValidationException):
        check.check_ephemeral_storage(1024)


def test_description_of_256_characters_is_accepted_and_257_is_not():
    assert check.check_description("d" * 256) == "d" * 256
    with pytest.raises(ValidationException):
        check.check_description("d" * 257)


# -- environment ---------------------------------------------------------------------------


def test_environment_returns_its_variables():
    assert check.check_environment({"Variables": {"AB": "1", "c_2": ""}}) == {"AB": "1", "c_2": ""}


def test_environment_without_variables_is_an_empty_map():
    assert check.check_environment({}) == {}


@pytest.mark.parametrize(
    "key", ["PATH", "LANG", "LD_LIBRARY_PATH", "PYTHONPATH", "NODE_PATH", "TZ"]
)
def test_overridable_runtime_variables_are_not_reserved(key):
    assert check.check_environment({"Variables": {key: "x"}}) == {key: "x"}


@pytest.mark.parametrize("key", ["1abc", "A", "my-key", "a.b", "_X", "ü1"])
def test_environment_key_not_matching_the_pattern_is_a_validation_error(key):
    with pytest.raises(ValidationException) as info:
        check.check_environment({"Variables": {key: "v"}})

    assert info.value.message.startswith("1 validation error detected:")


@pytest.mark.parametrize("variables", [{"AB": 1}, {"AB": None}, ["AB"]])
def test_environment_values_that_are_not_strings_are_a_validation_error(variables):
    with pytest.raises(ValidationException):
        check.check_environment({"Variables": variables})


def test_reserved_environment_key_is_invalid_parameter_naming_the_key():
    with pytest.raises(InvalidParameterValueException) as info:
        check.check_environment({"Variables": {"AWS_REGION": "eu-west-1", "MINE": "x"}})

    assert info.value.message == (
        ENV_PREFIX + "variables you have provided contains reserved keys that are currently not "
        "supported for modification. Reserved keys used in this request: AWS_REGION"
    )


def test_every_reserved_key_used_is_named():
    variables = {"AWS_SESSION_TOKEN": "t", "AWS_ACCESS_KEY_ID": "k", "LAMBDA_TASK_ROOT": "/x"}

    with pytest.raises(InvalidParameterValueException) as info:
        check.check_environment({"Variables": variables})

    assert info.value.message.endswith(
        "Reserved keys used in this request: AWS_ACCESS_KEY_ID, AWS_SESSION_TOKEN, LAMBDA_TASK_ROOT"
    )


def test_environment_over_4kb_quotes_the_string_it_measured():
    variables = {"BIG": "x" * 4096}

    with pytest.raises(InvalidParameterValueException) as info:
        check.check_environment({"Variables": variables})

    assert info.value.message == (
        ENV_PREFIX
        + "variables you have provided exceeded the 4KB limit. String measured: "
        + json.dumps(variables, separators=(",", ":"))
    )


def test_environment_of_exactly_4kb_measured_as_compact_json_is_accepted():
    # Given {"BIG":"..."}: 10 bytes of JSON around the value
    variables = {"BIG": "x" * (4096 - len('{"BIG":""}'))}

    assert check.check_environment({"Variables": variables}) == variables


def test_environment_size_counts_utf8_bytes_not_characters():
    # Given fewer than 4096 characters that need more than 4096 bytes
    variables = {"BIG": "é" * 2100}

    with pytest.raises(InvalidParameterValueException):
        check.check_environment({"Variables": variables})


# -- architectures, tracing, logging -------------------------------------------------------


@pytest.mark.parametrize("arch", ["x86_64", "arm64"])
def test_one_known_architecture_is_accepted(arch):
    assert check.check_architectures([arch]) == (arch,)


@pytest.mark.parametrize("value", [["x86_64", "arm64"], ["X86_64"], [], "x86_64", None])
def test_other_architectures_are_a_validation_error(value):
    with pytest.raises(ValidationException) as info:
        check.check_architectures(value)

    assert "at 'architectures' failed to satisfy constraint" in info.value.message


@pytest.mark.parametrize("mode", ["Active", "PassThrough"])
def test_known_tracing_mode_is_accepted(mode):
    assert check.check_tracing({"Mode": mode}) == mode


@pytest.mark.parametrize("value", [{"Mode": "active"}, {}, "Active"])
def test_other_tracing_config_is_a_validation_error(value):
    with pytest.raises(ValidationException):
        check.check_tracing(value)


def test_logging_config_returns_the_fields_it_sets():
    fields = check.check_logging({"LogFormat": "Text", "LogGroup": "/custom/group-1"})

    assert fields == {"log_format": "Text", "log_group": "/custom/group-1"}


def test_log_format_outside_the_enum_is_a_validation_error():
    with pytest.raises(ValidationException) as info:
        check.check_logging({"LogFormat": "XML"})

    assert "at 'loggingConfig.logFormat'" in info.value.message


def test_log_group_with_a_forbidden_character_is_a_validation_error():
    with pytest.raises(ValidationException):
        check.check_logging({"LogGroup": "bad group!"})


def test_json_log_format_is_refused_as_unsupported_by_lamina():
    with pytest.raises(InvalidParameterValueException):
        check.check_logging({"LogFormat": "JSON"})


def test_log_level_filtering_is_refused_as_unsupported_by_lamina():
    with pytest.raises(InvalidParameterValueException):
        check.check_logging({"LogFormat": "Text", "ApplicationLogLevel": "DEBUG"})


def test_kms_key_arn_must_be_an_arn_and_empty_clears_it():
    assert check.check_kms_key_arn("arn:aws:kms:us-east-1:000000000000:key/k") is not None
    assert check.check_kms_key_arn("") is None
    with pytest.raises(ValidationException):
        check.check_kms_key_arn("not-an-arn")


@pytest.mark.parametrize("apply_on", ["PublishedVersions", "None"])
def test_snap_start_apply_on_values(apply_on):
    assert check.check_snap_start({"ApplyOn": apply_on}) == apply_on


def test_snap_start_unknown_apply_on_is_a_validation_error_naming_the_member():
    with pytest.raises(ValidationException) as raised:
        check.check_snap_start({"ApplyOn": "Always"})

    assert "'Always' at 'snapStart.applyOn'" in raised.value.message
    assert "[PublishedVersions, None]" in raised.value.message


@pytest.mark.parametrize("runtime", ["python3.9", "python3.11", "nodejs22.x", "provided.al2023"])
def test_snap_start_is_refused_on_runtimes_aws_does_not_offer_it_for(runtime):
    check.check_snap_start_fits("None", runtime, 512)  # off: any runtime
    with pytest.raises(InvalidParameterValueException) as raised:
        check.check_snap_start_fits("PublishedVersions", runtime, 512)

    assert raised.value.message == f"{runtime} is not supported for SnapStart enabled functions."


def test_snap_start_is_refused_with_more_than_512_mb_of_ephemeral_storage():
    check.check_snap_start_fits("PublishedVersions", "python3.12", 512)
    with pytest.raises(InvalidParameterValueException):
        check.check_snap_start_fits("PublishedVersions", "python3.13", 1024)
