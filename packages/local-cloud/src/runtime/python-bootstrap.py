"""The local cloud's Python runtime: imports the function's handler module and loops on Lambda's Runtime
API ($AWS_LAMBDA_RUNTIME_API), as Lambda's own Python runtime does. Standard library only."""
import importlib
import json
import os
import sys
import time
import traceback
import urllib.request

API = "http://%s/2018-06-01/runtime" % os.environ["AWS_LAMBDA_RUNTIME_API"]


def request(method, path, body=None, headers=None):
    data = None if body is None else body.encode("utf-8")
    req = urllib.request.Request(API + path, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req) as response:
        return response.read(), response.headers


def error_body(error, error_type=None):
    return json.dumps(
        {
            "errorMessage": str(error),
            "errorType": error_type or type(error).__name__,
            "stackTrace": traceback.format_tb(error.__traceback__),
        }
    )


def point_sdk_at_local_engines():
    """boto3 before 1.28 ignores AWS_ENDPOINT_URL_<SERVICE>: every client made without an endpoint of its
    own gets the variable's, as newer ones do, so no request leaves for the real AWS."""
    try:
        import botocore.session
    except ImportError:
        return
    original = botocore.session.Session.create_client
    names = {"dynamodbstreams": "DYNAMODB_STREAMS"}

    def create_client(self, service_name, *args, **kwargs):
        if kwargs.get("endpoint_url") is None and (len(args) < 5 or args[4] is None):
            key = names.get(service_name, service_name.upper().replace("-", "_"))
            endpoint = os.environ.get("AWS_ENDPOINT_URL_" + key) or os.environ.get("AWS_ENDPOINT_URL")
            if endpoint:
                if len(args) >= 5:
                    args = args[:4] + (endpoint,) + args[5:]
                else:
                    kwargs["endpoint_url"] = endpoint
        return original(self, service_name, *args, **kwargs)

    botocore.session.Session.create_client = create_client


class LambdaContext:
    def __init__(self, request_id, deadline_ms, arn):
        self.aws_request_id = request_id
        self.invoked_function_arn = arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


class InitError(Exception):
    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type


def load_handler():
    spec = os.environ["_HANDLER"]
    module_name, _, function_name = spec.rpartition(".")
    sys.path.insert(0, os.environ["LAMBDA_TASK_ROOT"])
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        raise InitError(
            "Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_name, error)
        ) from error
    handler = getattr(module, function_name, None)
    if not callable(handler):
        raise InitError(
            "Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (function_name, module_name)
        )
    return handler


def main():
    point_sdk_at_local_engines()
    try:
        handler = load_handler()
    except Exception as error:
        error_type = error.error_type if isinstance(error, InitError) else "Runtime.InitError"
        print("[ERROR] %s: %s" % (error_type, error), file=sys.stderr, flush=True)
        request("POST", "/init/error", error_body(error, error_type))
        sys.exit(1)
    while True:
        body, headers = request("GET", "/invocation/next")
        request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        trace_id = headers.get("Lambda-Runtime-Trace-Id")
        if trace_id:
            os.environ["_X_AMZN_TRACE_ID"] = trace_id
        context = LambdaContext(
            request_id,
            int(headers["Lambda-Runtime-Deadline-Ms"]),
            headers["Lambda-Runtime-Invoked-Function-Arn"],
        )
        try:
            result = handler(json.loads(body), context)
            try:
                answer = json.dumps(result)
            except (TypeError, ValueError) as error:
                request("POST", "/invocation/%s/error" % request_id, error_body(error, "Runtime.MarshalError"))
                continue
            request("POST", "/invocation/%s/response" % request_id, answer)
        except Exception as error:
            print("[ERROR] %s: %s" % (type(error).__name__, error), file=sys.stderr, flush=True)
            traceback.print_exc()
            request("POST", "/invocation/%s/error" % request_id, error_body(error))


if __name__ == "__main__":
    main()
