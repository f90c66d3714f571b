/*
 * The host's wire format (see ../protocol.py), for the Node.js runtime.
 *
 * Every message is one frame: u32 length (of everything after it) | u8 kind | u32 header
 * length | header (JSON) | body, big-endian. The channel is the environment's end of the
 * control socket; it never keeps the process alive by itself while a handler runs, so that
 * Node's 'beforeExit' can tell when the function's own work is done (AWS's
 * callbackWaitsForEmptyEventLoop).
 */

'use strict';

const net = require('net');

const INVOKE = 1;
const READY = 2;
const INIT_ERROR = 3;
const RESPONSE = 4;
const ERROR = 5;
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

function encode(kind, header, body) {
  const head = Buffer.from(JSON.stringify(header));
  const prefix = Buffer.allocUnsafe(9);
  prefix.writeUInt32BE(5 + head.length + body.length, 0);
  prefix.writeUInt8(kind, 4);
  prefix.writeUInt32BE(head.length, 5);
  return Buffer.concat([prefix, head, body]);
}

function decode(frame) {
  const headLength = frame.readUInt32BE(1);
  const header = JSON.parse(frame.subarray(5, 5 + headLength).toString('utf8'));
  return { kind: frame[0], header, body: frame.subarray(5 + headLength) };
}

/** Cuts a byte stream into frames; copies a large body once, not once per chunk. */
class FrameReader {
  constructor() {
    this.chunks = [];
    this.size = 0;
  }

  feed(chunk) {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const frames = [];
    while (this.size >= 4) {
      if (this.chunks[0].length < 4) this._join();
      const length = this.chunks[0].readUInt32BE(0);
      if (length > MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes exceeds the limit`);
      if (this.size < 4 + length) break;
      const all = this._join();
      frames.push(decode(all.subarray(4, 4 + length)));
      const rest = all.subarray(4 + length);
      this.chunks = rest.length ? [rest] : [];
      this.size = rest.length;
    }
    return frames;
  }

  _join() {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.size)];
    return this.chunks[0];
  }
}

/** The control socket: frames in through onFrame, frames out through send. */
class Channel {
  constructor(fd, onFrame, onClose) {
    const reader = new FrameReader();
    this.socket = new net.Socket({ fd, readable: true, writable: true });
    this.socket.on('data', (chunk) => {
      for (const frame of reader.feed(chunk)) onFrame(frame);
    });
    this.socket.on('end', onClose);
    this.socket.on('error', onClose);
    this.socket.unref();
  }

  send(kind, header, body, then) {
    this.socket.write(encode(kind, header, body || Buffer.alloc(0)), then);
  }

  /** Keep the process alive while it waits for the next invocation. */
  wait() {
    this.socket.ref();
  }

  /** Let the process's event loop empty while a handler runs. */
  release() {
    this.socket.unref();
  }
}

module.exports = { Channel, FrameReader, encode, INVOKE, READY, INIT_ERROR, RESPONSE, ERROR };
