/*
 * console.* as AWS's Node.js runtime writes it: one log event per call,
 * "<ISO time>\t<request id>\t<LEVEL>\t<util.format of the arguments>", newlines inside the
 * message turned into carriage returns (the host turns them back, so a multi-line message
 * stays one event). AWS_LAMBDA_LOG_LEVEL drops the levels below it. The request id lives
 * under the same global symbol as on AWS, where libraries such as Powertools read it; before
 * the first invocation it is undefined, and AWS prints it so.
 */

'use strict';

const util = require('util');
const { toLogText } = require('./errors.js');

const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
const LEVELS = ['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'];

function setRequestId(id) {
  global[REQUEST_ID] = id;
}

function write(level, message, ...params) {
  const text = util.format(message, ...params);
  const line = `${new Date().toISOString()}\t${global[REQUEST_ID]}\t${level}\t${text}`;
  process.stdout.write(line.replace(/\n/g, '\r') + '\n');
}

function patchConsole() {
  const wanted = LEVELS.indexOf((process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase());
  const lowest = wanted < 0 ? 0 : wanted;
  const logger = (level) =>
    LEVELS.indexOf(level) >= lowest || level === 'FATAL'
      ? (message, ...params) => write(level, message, ...params)
      : () => {};
  console.trace = logger('TRACE');
  console.debug = logger('DEBUG');
  console.info = logger('INFO');
  console.log = console.info;
  console.warn = logger('WARN');
  console.error = logger('ERROR');
  console.fatal = logger('FATAL');
}

/** An error the runtime reports, as AWS logs it: "Invoke Error \t{...json...}". */
function logError(what, error) {
  console.error(what, toLogText(error));
}

module.exports = { patchConsole, setRequestId, logError };
