/*
 * Response streaming for Node.js handlers, as AWS's Node.js runtime offers it.
 *
 * The global ``awslambda`` object (set before the handler's module loads) has
 * ``streamifyResponse(handler, options)``, which marks a handler as streaming, and
 * ``HttpResponseStream.from(stream, prelude)``, which makes the stream's first bytes the HTTP
 * status and headers of a function URL's response (a JSON prelude and eight NUL bytes, content
 * type application/vnd.awslambda.http-integration-response). A streaming handler is called as
 * ``handler(event, responseStream, context)`` and must return a promise; ``responseStream`` is a
 * Writable whose every write goes to the host at once as a RESPONSE_CHUNK frame
 * (../protocol.py), so pipelines work and the client sees each piece as it is written.
 */

'use strict';

const { RESPONSE, RESPONSE_CHUNK } = require('./protocol.js');
const { attachInvokeData } = require('./context.js');

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
const STREAM_RESPONSE = 'response';
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';
const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
const DELIMITER_LENGTH = 8;
const PIECE_BYTES = 1024 * 1024;

class InvalidStreamingOperation extends Error {
  constructor(message) {
    super(message);
    this.name = 'Runtime.InvalidStreamingOperation';
  }
}

class HttpResponseStream {
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType(PRELUDE_CONTENT_TYPE);
    const metadata = JSON.stringify(prelude); // no NUL byte can be in it
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(DELIMITER_LENGTH));
    };
    return underlyingStream;
  }
}

function installGlobal() {
  globalThis.awslambda = {
    streamifyResponse(handler, options) {
      handler[HANDLER_STREAMING] = STREAM_RESPONSE;
      if (options && typeof options.highWaterMark === 'number') {
        handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark, 10);
      }
      return handler;
    },
    HttpResponseStream,
  };
}

function isStreaming(handler) {
  return handler[HANDLER_STREAMING] === STREAM_RESPONSE;
}

/**
 * The response stream of one invocation; ``send(header, body)`` puts one RESPONSE_CHUNK on the
 * channel. Bytes leave at each write: nothing is held back here.
 */
function createResponseStream(send, highWaterMark) {
  let contentType = DEFAULT_CONTENT_TYPE;
  let started = false;
  const emit = (chunk) => {
    // Frames stay well under the host's frame limit, whatever the size of one write.
    for (let start = 0; start < chunk.length || !started; start += PIECE_BYTES) {
      const header = started ? {} : { content_type: contentType };
      started = true;
      send(header, chunk.subarray(start, start + PIECE_BYTES));
    }
  };
  const { Writable } = require('stream'); // loaded when first needed, not at every cold start
  const stream = new Writable({
    highWaterMark,
    write(chunk, _encoding, callback) {
      emit(chunk);
      callback();
    },
  });
  const write = stream.write.bind(stream);
  stream.write = (chunk, encoding, callback) => {
    if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && !(chunk instanceof Uint8Array)) {
      chunk = JSON.stringify(chunk);
    }
    if (!started && typeof stream._onBeforeFirstWrite === 'function') {
      const before = stream._onBeforeFirstWrite;
      stream._onBeforeFirstWrite = undefined;
      before((piece) => write(piece));
    }
    return write(chunk, encoding, callback);
  };
  const end = stream.end.bind(stream);
  stream.end = (chunk, encoding, callback) => {
    // A last chunk goes through write() above (prelude first, objects as JSON).
    if (typeof chunk === 'function') return end(chunk);
    if (chunk !== undefined && chunk !== null) {
      stream.write(chunk, typeof encoding === 'string' ? encoding : undefined);
    }
    return end(typeof encoding === 'function' ? encoding : callback);
  };
  stream.setContentType = (type) => {
    if (started) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
    contentType = type;
  };
  /** Called once the stream ended: a stream nothing was written to still says its type. */
  stream.flushContentType = () => {
    if (!started) emit(Buffer.alloc(0));
  };
  return stream;
}

/** The context of a streaming invocation: AWS's has no callback methods. */
function streamingContext() {
  let waitForEmptyEventLoop = true;
  return {
    get callbackWaitsForEmptyEventLoop() {
      return waitForEmptyEventLoop;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waitForEmptyEventLoop = value;
    },
  };
}

/**
 * Run one invocation of a streaming handler for ``runtime`` (bootstrap.js): chunks as they are
 * written, then RESPONSE {streamed: true} once the handler's promise resolved and the stream
 * ended, or ERROR if either failed (also mid-stream: the host ends the client's stream with
 * the error). ``onExit`` fires when the event loop empties before that: AWS's "Response stream
 * is not finished."
 */
function invoke(runtime, onExit, header, body) {
  const requestId = header.request_id;
  const send = (chunkHeader, chunk) => {
    if (runtime.requestId === requestId) runtime.channel.send(RESPONSE_CHUNK, chunkHeader, chunk);
  };
  const stream = createResponseStream(send, runtime.handler[HANDLER_HIGHWATERMARK]);
  let settled = false;
  const fail = (err) => {
    if (settled) return;
    settled = true;
    onExit.reset();
    runtime.fail(err);
  };
  const succeed = () => {
    if (settled) return;
    settled = true;
    onExit.reset();
    stream.flushContentType();
    const rss = process.resourceUsage().maxRSS;
    runtime.finish(RESPONSE, { max_rss_kb: rss, streamed: true }, Buffer.alloc(0));
  };
  onExit.set(() => {
    // The event loop emptied with the handler's promise unsettled: what was sent stands.
    if (stream.writableFinished) succeed();
    else fail(new Error('Response stream is not finished.'));
  });
  stream.on('error', fail);
  try {
    const event = JSON.parse(body.toString('utf8'));
    const result = runtime.handler(event, stream, attachInvokeData(streamingContext(), header));
    if (!result || typeof result.then !== 'function') {
      fail(new Error('Streaming does not support non-async handlers.'));
      return;
    }
    result.then(() => {
      if (stream.writableFinished) succeed();
      else stream.on('finish', succeed);
    }, fail);
  } catch (err) {
    fail(err);
  }
}

module.exports = { installGlobal, isStreaming, invoke };
