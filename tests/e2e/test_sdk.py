"""The AWS SDK for Python is importable in functions, as in AWS's Python runtimes."""

import json

from tests.conftest import zip_files


def test_boto3_is_importable_without_bundling_it(lambda_client, make_function):
    name = make_function(
        """
        import boto3

        def handler(event, context):
            return boto3.__version__
        """
    )

    response = lambda_client.invoke(FunctionName=name)

    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()).count(".") == 2


def test_a_bundled_boto3_wins_over_the_runtimes_one(lambda_client, make_function):
    package = zip_files(
        {
            "boto3/__init__.py": "__version__ = 'bundled'\n",
            "handler.py": "import boto3\ndef handler(e, c):\n    return boto3.__version__\n",
        }
    )
    name = make_function(zip_bytes=package)

    response = lambda_client.invoke(FunctionName=name)

    assert json.loads(response["Payload"].read()) == "bundled"
