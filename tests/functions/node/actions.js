/*
 * A handler whose behaviour is chosen by the event, with module state to observe its lifecycle.
 *
 * {"action": ...} picks what one invocation does; `handler` is async, `viaCallback` answers
 * through the callback, `legacy` through context.succeed/fail/done. Runs on every managed
 * Node.js runtime (18 and later), CommonJS.
 */

'use strict';

const crypto = require('crypto');

let invocations = 0; // since this module was loaded (once per runtime start)
const environment = crypto.randomUUID();

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const actions = {
  echo: async (event) => event,
  count: async () => invocations,
  environment: async () => environment,
  throw: async (event) => {
    throw new TypeError(event.message || 'bad value');
  },
  throwString: async (event) => {
    throw event.message;
  },
  reject: (event) => Promise.reject(new Error(event.message)),
  exit: async (event) => process.exit(event.code),
  kill: async () => process.kill(process.pid, 'SIGKILL'),
  sleep: async (event) => {
    await sleep(event.seconds * 1000);
    return 'slept';
  },
  string: async (event) => 'x'.repeat(event.size),
  bigint: async () => ({ big: 10n }),
  never: () => new Promise(() => {}),
  throwLater: async (event) => {
    setTimeout(() => {
      throw new RangeError(event.message);
    }, 10);
    await sleep(60000);
  },
  rejectLater: async (event) => {
    Promise.reject(new Error(event.message));
    await sleep(60000);
  },
  log: async (event) => {
    for (const [method, args] of event.calls) console[method](...args);
    return 'logged';
  },
  write: async (event) => {
    process.stdout.write(event.text);
    return 'written';
  },
  remaining: async (event, context) => {
    const first = context.getRemainingTimeInMillis();
    await sleep(50);
    return { first, second: context.getRemainingTimeInMillis() };
  },
  heap: async () => require('v8').getHeapStatistics().heap_size_limit,
  require: async (event) => require(event.module).value,
};

exports.handler = async (event, context) => {
  invocations += 1;
  return actions[event.action || 'echo'](event, context);
};

exports.viaCallback = (event, context, callback) => {
  invocations += 1;
  if (event.wait === false) context.callbackWaitsForEmptyEventLoop = false;
  if (event.timer) setTimeout(() => console.log(event.timer), event.timerMs || 200);
  if (event.error !== undefined) callback(event.errorAsString ? event.error : new Error(event.error));
  else if (event.throw) throw new Error(event.throw);
  else callback(null, { result: event.result, waits: context.callbackWaitsForEmptyEventLoop });
};

exports.legacy = (event, context) => {
  if (event.how === 'succeed') context.succeed(event.result);
  else if (event.how === 'done') context.done(null, event.result);
  else if (event.how === 'fail') context.fail(new Error(event.message));
  else context.fail();
};

exports.noCallback = (event) => {
  console.log('returned without calling back', event.tag);
};

exports.twice = (event, context, callback) => {
  callback(null, 'first');
  callback(null, 'second');
  context.succeed('third');
};

exports.nested = { api: { get: async () => 'nested export' } };
exports.notAFunction = 42;
