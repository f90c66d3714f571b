/*
 * The handler's callback and context object, with AWS's Node.js semantics.
 *
 * callback(err, result): an error is reported at once; a result waits until the event loop is
 * empty (every timer, socket and promise the function started has finished) unless the
 * function set context.callbackWaitsForEmptyEventLoop = false. context.done/succeed/fail are
 * the legacy forms and report at once. Only the first of these calls counts; a second
 * completion is refused with AWS's message. The context carries the fields AWS sets, from the
 * environment (function name, version, memory, log group and stream) and from the invocation
 * (request id, ARN, deadline, client context, identity).
 */

'use strict';

/**
 * ``onExit`` holds what to do when the event loop empties (Node's 'beforeExit'); ``report``
 * has ``response(result)`` and ``error(err)``, each sending the outcome and taking the next
 * invocation.
 */
function buildCallbackContext(onExit, report) {
  let completed = false;
  let waitForEmptyEventLoop = true;
  const complete = (result) => {
    if (completed) {
      console.error(
        'Invocation has already been reported as done. Cannot call complete more than once ' +
          'per invocation.',
      );
      return;
    }
    completed = true;
    report.response(result);
  };
  const done = (err, result) => {
    onExit.reset();
    if (err !== undefined && err !== null) report.error(err);
    else complete(result);
  };
  const callback = (err, result) => {
    onExit.reset();
    if (err !== undefined && err !== null) report.error(err);
    else if (!waitForEmptyEventLoop) complete(result);
    else onExit.set(() => setImmediate(() => complete(result)));
  };
  let finished = false;
  const once =
    (action) =>
    (...args) => {
      if (finished) return;
      action(...args);
      finished = true;
    };
  const context = {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
    succeed: once((result) => done(null, result)),
    fail: once((err) => (err === undefined || err === null ? done('handled') : done(err, null))),
    done: once(done),
  };
  return { callback: once(callback), context, markCompleted: () => (completed = true) };
}

function parseJson(text, name) {
  if (text === undefined || text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

/** Adds the invocation's fields to the context (throws if its client context is not JSON). */
function attachInvokeData(context, header) {
  const env = process.env;
  const deadline = header.deadline_ms;
  return Object.assign(context, {
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    clientContext: parseJson(header.client_context, 'ClientContext'),
    identity: header.identity ? header.identity : undefined,
    invokedFunctionArn: header.invoked_function_arn,
    awsRequestId: header.request_id,
    tenantId: undefined,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  });
}

module.exports = { buildCallbackContext, attachInvokeData };
