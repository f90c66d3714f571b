"""The managed Python runtime: runs inside an execution environment on the function's interpreter.

It imports the handler once (the init phase), reports READY or INIT_ERROR to the host over the
control socket, then serves one invocation at a time: build the ``context`` object, call the
handler, marshal its result, report RESPONSE or ERROR. Errors, log lines and the context follow
what AWS's own runtime interface client produces, so code behaves here as it does on Lambda.

Standard library only; must run on Python 3.9 and later. Started as
``python -s bootstrap.py`` with the control socket's descriptor in ``_LAMINA_CONTROL_FD``, or
pre-loaded in a zygote whose forks call ``main`` in place.
"""

import contextlib
import decimal
import importlib
import importlib.util
import json
import logging
import math
import os
import resource
import socket
import sys
import time
import traceback

RUNTIME_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_RESPONSE_BYTES = 6291556
ERROR_LOG_INDENT = "\u00a0"  # AWS indents traceback lines in logs with NO-BREAK SPACE
ERROR_LOG_LINE_SEPARATOR = "\r"  # joins a multi-line error into one log event


def _load_private(name, relative_path):
    """Import one of the runtime's own modules under a private name, clear of the user's
    module names. A zygote has loaded some already (see lamina/sandbox/zygote.py)."""
    if name in sys.modules:
        return sys.modules[name]
    path = os.path.join(RUNTIME_DIR, relative_path)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError("cannot load the lamina runtime module " + path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


protocol = _load_private("_lamina_protocol", "protocol.py")


class FaultException(Exception):
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    MARSHAL_ERROR = "Runtime.MarshalError"
    RESPONSE_TOO_LARGE = "Function.ResponseSizeTooLarge"

    def __init__(self, exception_type, msg, trace=None):
        super().__init__(msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


def make_error(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message or "",
        "errorType": error_type or "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace or [],
    }


def fault_result(exc_info, request_id=None):
    """The error document for an exception, without the runtime's own frames."""
    etype, value, tb = exc_info
    frames = [(f.filename, f.lineno or 0, f.name, f.line) for f in traceback.extract_tb(tb)]
    for i, frame in enumerate(frames):
        if "/bootstrap.py" not in frame[0]:
            frames = frames[i:]
            break
    else:
        frames = []
    return make_error(str(value), etype.__name__, traceback.format_list(frames), request_id)


def log_error(error):
    """Write an error as AWS does: one log event, traceback lines indented with U+00A0."""
    description = "[ERROR]"
    if error.get("errorType"):
        description += " " + error["errorType"]
    if error.get("errorMessage"):
        description += (":" if error.get("errorType") else "") + " " + error["errorMessage"]
    lines = [description]
    stack = error.get("stackTrace")
    if stack is not None:
        lines.append("Traceback (most recent call last):")
        for element in stack:
            for line in element.splitlines() or [""]:
                stripped = line.lstrip(" ")
                lines.append(ERROR_LOG_INDENT * (len(line) - len(stripped)) + stripped)
    sys.stdout.write(ERROR_LOG_LINE_SEPARATOR.join(lines) + "\n")


def load_handler(handler):
    """Import the handler named ``module.function`` with the errors AWS's runtime raises."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(
            FaultException.MALFORMED_HANDLER_NAME, "Bad handler '{}': {}".format(handler, e)
        ) from None
    if modname.split(".")[0] in sys.builtin_module_names:
        raise FaultException(
            FaultException.BUILT_IN_MODULE_CONFLICT,
            "Cannot use built-in module {} as a handler module".format(modname),
        )
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(
            FaultException.IMPORT_MODULE_ERROR,
            "Unable to import module '{}': {}".format(modname, e),
        ) from None
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(
            FaultException.USER_CODE_SYNTAX_ERROR,
            "Syntax error in module '{}': {}".format(modname, e),
            trace,
        ) from None
    try:
        return getattr(module, fname)
    except AttributeError:
        raise FaultException(
            FaultException.HANDLER_NOT_FOUND,
            "Handler '{}' missing on module '{}'".format(fname, modname),
        ) from None


UNESCAPED_RUNTIMES = ("AWS_Lambda_python3.12", "AWS_Lambda_python3.13")
"""Runtimes whose AWS runtime client writes non-ASCII characters as they are, not escaped."""


class _Encoder(json.JSONEncoder):
    """Writes a Decimal with its exact digits, as AWS's runtime client does.

    The standard encoder cannot emit raw number text, so each Decimal becomes a unique marker
    string that ``marshal`` then replaces with the number's text.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.marker = "\u0000lamina-decimal-%s-" % os.urandom(8).hex()
        self.decimals = []

    def default(self, o):
        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return math.nan
            self.decimals.append(str(o))
            return "%s%d" % (self.marker, len(self.decimals) - 1)
        return super().default(o)


def marshal(result):
    if isinstance(result, bytes):
        return result
    ensure_ascii = os.environ.get("AWS_EXECUTION_ENV") not in UNESCAPED_RUNTIMES
    try:
        encoder = _Encoder(ensure_ascii=ensure_ascii)
        text = encoder.encode(result)
        if encoder.decimals:
            quoted = json.dumps(encoder.marker)[:-1]
            for index, digits in enumerate(encoder.decimals):
                text = text.replace('%s%d"' % (quoted, index), digits, 1)
        return text.encode()
    except Exception as e:
        raise FaultException(
            FaultException.MARSHAL_ERROR, "Unable to marshal response: {}".format(e)
        ) from None


class CognitoIdentity(object):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]

    def __init__(self, doc=None):
        doc = doc or {}
        self.cognito_identity_id = doc.get("cognitoIdentityId")
        self.cognito_identity_pool_id = doc.get("cognitoIdentityPoolId")


class Client(object):
    __slots__ = [
        "app_package_name",
        "app_title",
        "app_version_code",
        "app_version_name",
        "installation_id",
    ]


class ClientContext(object):
    __slots__ = ["client", "custom", "env"]


def _object_from(cls, doc):
    if doc is None:
        return None
    obj = cls()
    for name in cls.__slots__:
        setattr(obj, name, doc.get(name) if isinstance(doc, dict) else None)
    return obj


class LambdaContext(object):
    """The ``context`` argument, with the fields and methods of AWS's Python runtime."""

    def __init__(self, request_id, deadline_ms, invoked_function_arn, client_context, identity):
        self.aws_request_id = request_id
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.invoked_function_arn = invoked_function_arn
        self.tenant_id = None
        self.client_context = _object_from(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _object_from(Client, self.client_context.client)
        self.identity = CognitoIdentity(identity)
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        remaining = self._deadline_ms - int(time.time() * 1000)
        return remaining if remaining > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return (
            "LambdaContext([aws_request_id={},log_group_name={},log_stream_name={},"
            "function_name={},memory_limit_in_mb={},function_version={},"
            "invoked_function_arn={},client_context={},identity={}])".format(
                self.aws_request_id,
                self.log_group_name,
                self.log_stream_name,
                self.function_name,
                self.memory_limit_in_mb,
                self.function_version,
                self.invoked_function_arn,
                self.client_context,
                self.identity,
            )
        )


class _Unbuffered(object):
    """Every write reaches the log pipe at once, so output is never lost or reordered."""

    def __init__(self, stream):
        self.stream = stream

    def __getattr__(self, attr):
        return getattr(self.stream, attr)

    def write(self, msg):
        self.stream.write(msg)
        self.stream.flush()

    def writelines(self, msgs):
        self.stream.writelines(msgs)
        self.stream.flush()


_current_request_id = ""


class _RequestIdFilter(logging.Filter):
    def filter(self, record):
        record.aws_request_id = _current_request_id
        return True


class _StdoutHandler(logging.Handler):
    def emit(self, record):
        sys.stdout.write(self.format(record))


def setup_logging():
    logging.Formatter.converter = time.gmtime
    handler = _StdoutHandler()
    handler.setFormatter(
        logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
            "%Y-%m-%dT%H:%M:%S",
        )
    )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level in logging._nameToLevel:
        root.setLevel(level)


def setup_paths(task_root):
    """Arrange sys.path as Lambda does: the code first, then layers, then the runtime."""
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    version = "python%d.%d" % sys.version_info[:2]
    opt = os.environ.pop("_LAMINA_OPT_DIR", "/opt")  # set only where /opt is elsewhere
    layers = [opt + "/python/lib/%s/site-packages" % version, opt + "/python"]
    sys.path[0:0] = [task_root, *layers]
    sdk = os.environ.get("_LAMINA_SDK_PATH")
    if sdk:
        sys.path.append(sdk)
    sys.path.append(os.path.join(RUNTIME_DIR, "python", "hooks"))  # snapshot_restore_py


def max_memory_kb():
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children)


class Runtime(object):
    """One environment's runtime loop over the control socket."""

    def __init__(self, sock):
        self.sock = sock

    def send(self, kind, header, body=b""):
        sys.stdout.flush()
        sys.stderr.flush()
        self.sock.sendall(protocol.encode(kind, header, body))

    def init(self, handler_name, snapshot=None):
        """Load the handler (and, for a snapshot, run the before-snapshot hooks); READY or
        INIT_ERROR."""
        error_type = None
        try:
            handler = load_handler(handler_name)
            if snapshot is not None:
                error_type = snapshot.BEFORE_SNAPSHOT_ERROR
                snapshot.run_before_snapshot()
        except FaultException as e:
            error = make_error(e.msg, e.exception_type, e.trace)
        except Exception:
            error = fault_result(sys.exc_info())
        else:
            self.send(protocol.READY, {})
            return handler
        log_error(error)
        header = {"error_type": error_type} if error_type else {}
        self.send(protocol.INIT_ERROR, header, json.dumps(error).encode())
        return None

    def restore(self, snapshot):
        """In an environment forked from a template: introduce itself (the host learns its
        pid from the kernel), wait until the host has put it in its own cgroup, then run the
        after-restore hooks. False if they failed (reported as INIT_ERROR)."""
        self.send(protocol.HELLO, {})
        frame = protocol.read_frame(self.sock)
        if frame is None or frame[0] != protocol.RESUME:
            return False
        started = time.perf_counter()
        try:
            snapshot.run_after_restore()
        except Exception:
            error = fault_result(sys.exc_info())
            log_error(error)
            header = {"error_type": snapshot.AFTER_RESTORE_ERROR}
            self.send(protocol.INIT_ERROR, header, json.dumps(error).encode())
            return False
        self.send(protocol.READY, {"restore_ms": (time.perf_counter() - started) * 1000})
        return True

    def serve(self, handler):
        while True:
            frame = protocol.read_frame(self.sock)
            if frame is None:
                return
            kind, header, body = frame
            if kind == protocol.INVOKE:
                self.invoke(handler, header, body)

    def invoke(self, handler, header, body):
        global _current_request_id
        request_id = header["request_id"]
        _current_request_id = request_id
        if header.get("trace_id"):
            os.environ["_X_AMZN_TRACE_ID"] = header["trace_id"]
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        error = None
        try:
            client_context = header.get("client_context")
            context = LambdaContext(
                request_id,
                header["deadline_ms"],
                header["invoked_function_arn"],
                json.loads(client_context) if client_context else None,
                header.get("identity"),
            )
            result = marshal(handler(json.loads(body), context))
            if len(result) > MAX_RESPONSE_BYTES:
                raise FaultException(
                    FaultException.RESPONSE_TOO_LARGE,
                    "Response payload size exceeded maximum allowed payload size (%d bytes)."
                    % MAX_RESPONSE_BYTES,
                )
        except FaultException as e:
            error = make_error(e.msg, e.exception_type, e.trace, request_id)
            if e.exception_type == FaultException.RESPONSE_TOO_LARGE:
                error = {"errorMessage": e.msg, "errorType": e.exception_type}
        except Exception:
            error = fault_result(sys.exc_info(), request_id)
        if error is None:
            self.send(protocol.RESPONSE, {"max_rss_kb": max_memory_kb()}, result)
            return
        if error["errorType"] != FaultException.RESPONSE_TOO_LARGE:
            log_error(error)
        self.send(
            protocol.ERROR,
            {"max_rss_kb": max_memory_kb(), "error_type": error["errorType"]},
            json.dumps(error).encode(),
        )


def use_pycache_prefix(args):
    """Write the function's compiled modules under the given folder from now on.

    Set only after the runtime's own imports, so the standard library keeps using the compiled
    files that come with the interpreter.
    """
    for arg in args:
        if arg.startswith("--pycache-prefix="):
            sys.pycache_prefix = arg.split("=", 1)[1]


MAX_OPEN_FILES = 1024  # Lambda's quota of file descriptors per execution environment


def limit_open_files():
    # ValueError or OSError: already lower, or not ours to change.
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (MAX_OPEN_FILES, MAX_OPEN_FILES))


def main():
    limit_open_files()
    fd = int(os.environ.pop("_LAMINA_CONTROL_FD"))
    os.set_inheritable(fd, False)
    sock = socket.socket(fileno=fd)
    task_root = os.environ.get("LAMBDA_TASK_ROOT", "/var/task")
    setup_paths(task_root)
    os.chdir(task_root)
    sys.stdout = _Unbuffered(sys.stdout)
    sys.stderr = _Unbuffered(sys.stderr)
    setup_logging()
    use_pycache_prefix(sys.argv[1:])
    runtime = Runtime(sock)
    snapshot = None
    if os.environ.pop("_LAMINA_SNAPSHOT", None) == "1":  # this environment is a template
        snapshot = _load_private("_lamina_snapshot", os.path.join("python", "snapshot.py"))
    handler = runtime.init(os.environ.get("_HANDLER", ""), snapshot)
    if handler is None:
        sys.exit(1)
    if snapshot is not None:
        # The template: waits for restore requests; only its forked children return here.
        runtime = Runtime(snapshot.serve_template(protocol, sock))
        if not runtime.restore(snapshot):
            sys.exit(65)
    runtime.serve(handler)
    # The host closed the channel: leave now, even if the function left threads running.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
