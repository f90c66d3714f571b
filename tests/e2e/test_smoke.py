"""The quick start, end to end: deploy a function with boto3 and invoke it."""

import json


def test_deployed_function_answers_an_invocation(lambda_client, make_function):
    name = make_function(
        """
        def handler(event, context):
            return {"echo": event, "request_id": context.aws_request_id}
        """
    )

    response = lambda_client.invoke(FunctionName=name, Payload=b'{"hello": "world"}')

    assert response["StatusCode"] == 200
    body = json.loads(response["Payload"].read())
    assert body["echo"] == {"hello": "world"}
    assert body["request_id"] == response["ResponseMetadata"]["RequestId"]
