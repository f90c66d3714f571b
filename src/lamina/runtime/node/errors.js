/*
 * Errors as AWS's Node.js runtime reports them.
 *
 * The caller receives {errorType, errorMessage, trace}: the error's name, message and stack cut
 * into lines; anything thrown that is not an error becomes {errorType: typeof it, errorMessage:
 * its text, trace: []}. The log gets the error as JSON after a tab, with its own enumerable
 * fields. The runtime's own failures are named Runtime.<Something>.
 */

'use strict';

const util = require('util');

class RuntimeError extends Error {}

function runtimeError(name, makeMessage) {
  const type = class extends RuntimeError {
    constructor(...args) {
      super(makeMessage ? makeMessage(...args) : args[0]);
    }
  };
  type.prototype.name = `Runtime.${name}`;
  return type;
}

const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
const NodeJsExit = runtimeError(
  'NodeJsExit',
  () =>
    'The Lambda runtime client detected an unexpected Node.js exit code. This is most ' +
    'commonly caused by a Promise that was never settled. For more information, see ' +
    'https://nodejs.org/docs/latest/api/process.html#exit-codes',
);
class UnhandledPromiseRejection extends RuntimeError {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}
UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

function looksLikeError(value) {
  return (
    value &&
    typeof value.name === 'string' &&
    typeof value.message === 'string' &&
    typeof value.stack === 'string' &&
    value.name &&
    value.message &&
    value.stack
  );
}

/** The error document the caller receives. */
function toResponse(error) {
  try {
    if (util.types.isNativeError(error) || looksLikeError(error)) {
      return {
        errorType: error.name,
        errorMessage: error.message,
        trace: error.stack.split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_unreadable) {
    return {
      errorType: 'handled',
      errorMessage:
        'callback called with Error argument, but there was a problem while retrieving one ' +
        'or more of its message, name, and stack',
    };
  }
}

function withEnumerableFields(_key, value) {
  if (!(value instanceof Error)) return value;
  const fields = Object.assign(
    { errorType: value.name, errorMessage: value.message, code: value.code },
    value,
  );
  if (typeof value.stack === 'string') fields.stack = value.stack.split('\n');
  return fields;
}

/** The error as the log shows it: a tab, then JSON. */
function toLogText(error) {
  const asError = error instanceof Error ? error : new Error(error);
  try {
    return '\t' + JSON.stringify(asError, withEnumerableFields);
  } catch (_circular) {
    return '\t' + JSON.stringify(toResponse(asError));
  }
}

module.exports = {
  ImportModuleError,
  HandlerNotFound,
  MalformedHandlerName,
  UserCodeSyntaxError,
  NodeJsExit,
  UnhandledPromiseRejection,
  toResponse,
  toLogText,
};
