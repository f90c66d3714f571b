// Streaming handlers (awslambda.streamifyResponse) for the response streaming tests.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { Readable, pipeline } = require('stream');

const tick = () => new Promise((resolve) => setImmediate(resolve));

// Writes each of event.parts as its own chunk.
exports.chunks = awslambda.streamifyResponse(async (event, responseStream) => {
  for (const part of event.parts || []) {
    responseStream.write(part);
    await tick();
  }
  responseStream.end();
});

// Writes "one", then waits until the test has seen it (the test creates a file in this
// environment's /tmp once "one" reached it), then writes "two".
exports.handshake = awslambda.streamifyResponse(async (event, responseStream) => {
  fs.writeFileSync(path.join(os.tmpdir(), `ready-${event.token}`), '');
  responseStream.write('one');
  const go = path.join(os.tmpdir(), `go-${event.token}`);
  while (!fs.existsSync(go)) await new Promise((resolve) => setTimeout(resolve, 5));
  responseStream.write('two');
  responseStream.end();
});

exports.failsMidStream = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('partial ');
  await tick();
  throw new TypeError('broke mid-stream');
});

exports.neverEnds = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('before the timeout');
  await new Promise((resolve) => setTimeout(resolve, 600000));
});

exports.httpResponse = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { 'content-type': 'text/plain', 'x-custom': 'yes' },
    cookies: ['a=1', 'b=2'],
  });
  stream.write('hello ');
  await tick();
  stream.write('world');
  stream.end();
});

exports.piped = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.setContentType('text/csv');
  await new Promise((resolve, reject) =>
    pipeline(Readable.from(['a,b\n', '1,2\n', '3,4\n']), responseStream, (err) =>
      err ? reject(err) : resolve(),
    ),
  );
});

exports.large = awslambda.streamifyResponse(async (event, responseStream) => {
  const piece = Buffer.alloc(1024 * 1024, 'x');
  for (let i = 0; i < event.megabytes; i++) {
    responseStream.write(piece);
    await tick();
  }
  responseStream.end();
});

exports.notAsync = awslambda.streamifyResponse((event, responseStream) => {
  responseStream.end('sync');
});

exports.contextFields = awslambda.streamifyResponse(async (event, responseStream, context) => {
  console.log('streaming with', context.awsRequestId);
  responseStream.end(
    JSON.stringify({
      requestId: context.awsRequestId,
      clientContext: context.clientContext,
      remaining: context.getRemainingTimeInMillis() > 0,
      arn: context.invokedFunctionArn,
    }),
  );
});

// For function URLs: the request's path picks what to stream.
exports.url = awslambda.streamifyResponse(async (event, responseStream) => {
  const route = event.rawPath;
  if (route === '/handshake') {
    const token = event.queryStringParameters.token;
    const stream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 200,
      headers: { 'content-type': 'text/plain' },
    });
    fs.writeFileSync(path.join(os.tmpdir(), `ready-${token}`), '');
    stream.write('one');
    const go = path.join(os.tmpdir(), `go-${token}`);
    while (!fs.existsSync(go)) await new Promise((resolve) => setTimeout(resolve, 5));
    stream.end('two');
  } else if (route === '/plain') {
    responseStream.setContentType('text/plain; charset=utf-8');
    responseStream.write('plain ');
    await tick();
    responseStream.end('text');
  } else if (route === '/end-only') {
    awslambda.HttpResponseStream.from(responseStream, { statusCode: 418 }).end('teapot');
  } else if (route === '/raw') {
    responseStream.end('no content type set');
  } else if (route === '/fails-first') {
    throw new Error('before any byte');
  } else if (route === '/fails-later') {
    responseStream.write('started ');
    await tick();
    throw new Error('after some bytes');
  } else {
    const stream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 201,
      headers: { 'content-type': 'text/html', 'x-custom': 'yes' },
      cookies: ['a=1', 'b=2'],
    });
    stream.write('<p>hello ');
    await tick();
    stream.end('world</p>');
  }
});

exports.crashes = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('before the crash');
  await new Promise(() => {
    setTimeout(() => {
      throw new RangeError('uncaught in a timer');
    }, 1);
  });
});

exports.unfinished = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('never ended');
});

exports.binary = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write(Buffer.from([0, 1, 2, 255, 254]));
  responseStream.write(new Uint8Array([128, 0]));
  responseStream.end({ as: 'json' });
});
