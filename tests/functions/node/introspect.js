/*
 * Reports what the function sees: its event, context object, environment and node.
 */

'use strict';

exports.handler = async (event, context) => ({
  event,
  context: {
    ...JSON.parse(JSON.stringify(context)),
    remaining: context.getRemainingTimeInMillis(),
    hasIdentity: context.identity !== undefined,
    clientContext: context.clientContext === undefined ? 'undefined' : context.clientContext,
    methods: ['succeed', 'fail', 'done', 'getRemainingTimeInMillis'].filter(
      (name) => typeof context[name] === 'function',
    ),
  },
  environ: process.env,
  cwd: process.cwd(),
  node: process.versions.node,
  argv: process.execArgv,
});
