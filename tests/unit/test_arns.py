"""FunctionName parameters, qualifiers and ARNs, parsed and built as AWS does."""

import re

import pytest

from lamina import arns
from lamina.arns import FunctionRef, check_qualifier, function_arn, parse_function_name
from lamina.errors import ValidationException

FULL_ARN = "arn:aws:lambda:us-east-1:123456789012:function:my-fn"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("my-fn", FunctionRef("my-fn")),
        ("my_fn-2", FunctionRef("my_fn-2")),
        ("my-fn:prod", FunctionRef("my-fn", "prod")),
        ("my-fn:$LATEST", FunctionRef("my-fn", "$LATEST")),
        ("my-fn:7", FunctionRef("my-fn", "7")),
        ("123456789012:function:my-fn", FunctionRef("my-fn", account="123456789012")),
        (FULL_ARN, FunctionRef("my-fn", None, "us-east-1", "123456789012")),
        (f"{FULL_ARN}:1", FunctionRef("my-fn", "1", "us-east-1", "123456789012")),
        (f"{FULL_ARN}:$LATEST", FunctionRef("my-fn", "$LATEST", "us-east-1", "123456789012")),
        (
            "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:my-fn",
            FunctionRef("my-fn", None, "us-gov-west-1", "123456789012"),
        ),
        (
            "arn:aws-eusc:lambda:eusc-de-east-1:123456789012:function:my-fn",
            FunctionRef("my-fn", None, "eusc-de-east-1", "123456789012"),
        ),
    ],
)
def test_every_accepted_form_of_function_name_parses_to_its_parts(value, expected):
    assert parse_function_name(value) == expected


def test_a_name_made_of_twelve_digits_is_a_name_not_an_account():
    assert parse_function_name("123456789012") == FunctionRef("123456789012")


@pytest.mark.parametrize(
    "value",
    [
        "my-function!",
        "*",
        "my fn",
        "my-fn:a:b",
        "my-fn:$LATES",
        "my-fn:",
        "arn:aws:lambda:us-east-1:123456789012:my-fn:1:2",
        "arn:aws:s3:::bucket",
        "",
    ],
)
def test_malformed_function_name_is_a_validation_error_quoting_the_pattern(value):
    with pytest.raises(ValidationException) as info:
        parse_function_name(value)

    assert info.value.message == (
        f"1 validation error detected: Value '{value}' at 'functionName' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {arns.FUNCTION_NAME_PATTERN}"
    )


def test_function_name_longer_than_the_limit_is_a_validation_error():
    value = "a" * 141

    with pytest.raises(ValidationException) as info:
        parse_function_name(value, max_length=140)

    assert info.value.message.endswith("Member must have length less than or equal to 140")


def test_function_name_at_the_limit_is_accepted():
    assert parse_function_name("a" * 170).name == "a" * 170


def test_name_length_is_not_limited_to_64_by_the_parser():
    # Given a 65-character name: whether that is an error depends on the operation (AWS answers
    # 400 on create and 404 on reads), so the parser accepts it.
    assert parse_function_name("f" * 65) == FunctionRef("f" * 65)


def test_function_name_pattern_is_the_one_aws_quotes():
    assert arns.FUNCTION_NAME_PATTERN == (
        r"(arn:(aws[a-zA-Z-]*)?:lambda:)?((eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:)?"
        r"(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
    )


def test_the_quoted_pattern_accepts_what_the_parser_accepts():
    for value in ("my-fn", "my-fn:prod", f"{FULL_ARN}:$LATEST", "123456789012:function:x"):
        assert re.fullmatch(arns.FUNCTION_NAME_PATTERN, value)


@pytest.mark.parametrize("qualifier", ["$LATEST", "1", "prod", "blue_green-2", "a" * 128, ""])
def test_well_formed_qualifiers_are_accepted(qualifier):
    check_qualifier(qualifier)


def test_qualifier_longer_than_128_is_a_validation_error():
    with pytest.raises(ValidationException) as info:
        check_qualifier("a" * 129)

    assert info.value.message.endswith(
        "at 'qualifier' failed to satisfy constraint: Member must have length less than or "
        "equal to 128"
    )


@pytest.mark.parametrize("qualifier", ["prod!", "a b", "v:1", "a/b"])
def test_qualifier_with_a_forbidden_character_is_a_validation_error(qualifier):
    with pytest.raises(ValidationException) as info:
        check_qualifier(qualifier)

    assert info.value.message == (
        f"1 validation error detected: Value '{qualifier}' at 'qualifier' failed to satisfy "
        f"constraint: Member must satisfy regular expression pattern: {arns.QUALIFIER_PATTERN}"
    )


def test_function_arn_without_qualifier_is_unqualified():
    assert function_arn("us-east-1", "000000000000", "fn") == (
        "arn:aws:lambda:us-east-1:000000000000:function:fn"
    )


@pytest.mark.parametrize("qualifier", ["$LATEST", "3", "prod"])
def test_function_arn_with_qualifier_ends_in_it(qualifier):
    assert function_arn("eu-west-1", "123456789012", "fn", qualifier) == (
        f"arn:aws:lambda:eu-west-1:123456789012:function:fn:{qualifier}"
    )


def test_built_arn_parses_back_to_its_parts():
    arn = function_arn("us-east-1", "000000000000", "fn", "2")

    assert parse_function_name(arn) == FunctionRef("fn", "2", "us-east-1", "000000000000")


def test_runtime_version_arn_has_no_account_and_names_the_digest():
    assert arns.runtime_version_arn("us-east-1", "ab" * 32) == (
        f"arn:aws:lambda:us-east-1::runtime:{'ab' * 32}"
    )


def test_validation_message_has_aws_wording():
    assert arns.validation_message("x", "member", "Must be y") == (
        "1 validation error detected: Value 'x' at 'member' failed to satisfy constraint: Must be y"
    )
