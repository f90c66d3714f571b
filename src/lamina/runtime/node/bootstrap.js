/*
 * The managed Node.js runtime: runs inside an execution environment on the function's node.
 *
 * It loads the handler once (the init phase), reports READY or INIT_ERROR to the host over the
 * control socket (../protocol.py), then serves one invocation at a time: build the context and
 * callback, call the handler, wait for its promise or callback (and, for a callback, for the
 * event loop to empty unless told not to), report RESPONSE or ERROR. Errors, log lines and the
 * context follow what AWS's own Node.js runtime produces, so code behaves here as it does on
 * Lambda. An uncaught exception or unhandled rejection is reported for the invocation in
 * flight (or as the init error) and ends the process, as on AWS.
 *
 * Node's standard library only. Started as ``node [options] bootstrap.js`` with the control
 * socket's descriptor in _LAMINA_CONTROL_FD.
 */

'use strict';

const protocol = require('./protocol.js');
const errors = require('./errors.js');
const logging = require('./logging.js');
const { loadHandler } = require('./loader.js');
const { buildCallbackContext, attachInvokeData } = require('./context.js');
const streaming = require('./streaming.js');

const MAX_RESPONSE_BYTES = 6291556;
const EXIT_UNCAUGHT_EXCEPTION = 129;
const EXIT_UNHANDLED_REJECTION = 128;
const EXIT_UNSETTLED_INIT = 13; // what Node exits with when top-level code never settles

/** What runs when the event loop empties: set per invocation, a no-op in between. */
const onExit = {
  listener: null,
  set(listener) {
    this.listener = listener;
  },
  reset() {
    this.listener = null;
  },
};

class Runtime {
  constructor(channel) {
    this.channel = channel;
    this.handler = null;
    this.isAsync = false;
    this.streaming = false; // a handler wrapped in awslambda.streamifyResponse
    this.requestId = null; // the invocation in flight
  }

  ready(handler) {
    this.handler = handler;
    this.isAsync = Boolean(handler.constructor && handler.constructor.name === 'AsyncFunction');
    this.streaming = streaming.isStreaming(handler);
    this.channel.send(protocol.READY, {});
    this.next();
  }

  /** Take the next invocation once the event loop has had its turn (due timers run first). */
  next() {
    setImmediate(() => {
      const frame = this.channel.receive();
      if (frame === null) process.exit(0); // the host closed the channel: leave, whatever runs
      if (frame.kind === protocol.INVOKE) this.invoke(frame.header, frame.body);
      else this.next();
    });
  }

  invoke(header, body) {
    const requestId = header.request_id;
    this.requestId = requestId;
    logging.setRequestId(requestId);
    if (header.trace_id) process.env._X_AMZN_TRACE_ID = header.trace_id;
    else delete process.env._X_AMZN_TRACE_ID;
    if (this.streaming) {
      streaming.invoke(this, onExit, header, body);
      return;
    }
    const report = {
      response: (result) => this.respond(result),
      error: (err) => this.fail(err),
    };
    const { callback, context, markCompleted } = buildCallbackContext(onExit, report);
    onExit.set(() => {
      markCompleted();
      if (this.isAsync) this.fail(new errors.NodeJsExit());
      else this.respond(null);
    });
    try {
      const event = JSON.parse(body.toString('utf8'));
      const result = this.handler(event, attachInvokeData(context, header), callback);
      if (result && typeof result.then === 'function') {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  respond(result) {
    let payload;
    try {
      payload = Buffer.from(JSON.stringify(result === undefined ? null : result));
    } catch (_unserialisable) {
      this.fail(new Error('Unable to stringify response body'));
      return;
    }
    if (payload.length > MAX_RESPONSE_BYTES) {
      const message =
        'Response payload size exceeded maximum allowed payload size ' +
        `(${MAX_RESPONSE_BYTES} bytes).`;
      const doc = { errorMessage: message, errorType: 'Function.ResponseSizeTooLarge' };
      this.sendError(doc);
      return;
    }
    this.finish(protocol.RESPONSE, { max_rss_kb: maxRssKb() }, payload);
  }

  fail(err) {
    logging.logError('Invoke Error', err);
    this.sendError(errors.toResponse(err));
  }

  sendError(doc, exiting) {
    const header = { max_rss_kb: maxRssKb(), error_type: doc.errorType };
    if (exiting) header.exiting = true;
    this.finish(protocol.ERROR, header, Buffer.from(JSON.stringify(doc)), exiting);
  }

  finish(kind, header, body, exiting) {
    this.requestId = null;
    this.channel.send(kind, header, body);
    if (!exiting) this.next();
  }

  /** An uncaught exception or unhandled rejection: report it where AWS does, then exit. */
  crash(what, error, exitCode) {
    logging.logError(what, error);
    const doc = errors.toResponse(error);
    if (this.handler === null) {
      this.channel.send(protocol.INIT_ERROR, {}, Buffer.from(JSON.stringify(doc)));
    } else if (this.requestId !== null) {
      this.sendError(doc, true);
    } // else between invocations: nothing is waiting for an answer
    process.exit(exitCode);
  }
}

function maxRssKb() {
  return process.resourceUsage().maxRSS;
}

async function main() {
  const fd = Number(process.env._LAMINA_CONTROL_FD);
  delete process.env._LAMINA_CONTROL_FD;
  const taskRoot = process.env.LAMBDA_TASK_ROOT || '/var/task';
  const runtimeDir = process.env.LAMBDA_RUNTIME_DIR || '/var/runtime';
  process.chdir(taskRoot);
  logging.patchConsole();
  const runtime = new Runtime(new protocol.Channel(fd));
  process.on('uncaughtException', (error) => {
    runtime.crash('Uncaught Exception', error, EXIT_UNCAUGHT_EXCEPTION);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const error = new errors.UnhandledPromiseRejection(reason, promise);
    runtime.crash('Unhandled Promise Rejection', error, EXIT_UNHANDLED_REJECTION);
  });
  process.on('beforeExit', () => {
    if (runtime.handler === null) process.exit(EXIT_UNSETTLED_INIT);
    const listener = onExit.listener;
    onExit.reset();
    if (listener) listener();
  });
  let handler;
  try {
    handler = await loadHandler(taskRoot, process.env._HANDLER || '', runtimeDir);
  } catch (error) {
    runtime.crash('Uncaught Exception', error, EXIT_UNCAUGHT_EXCEPTION);
    return;
  }
  runtime.ready(handler);
}

streaming.installGlobal();

main();
