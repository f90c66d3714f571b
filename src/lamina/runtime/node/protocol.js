/*
 * The host's wire format (see ../protocol.py), for the Node.js runtime.
 *
 * Every message is one frame: u32 length (of everything after it) | u8 kind | u32 header
 * length | header (JSON) | body, big-endian. The channel is the environment's end of the
 * control socket, read and written with blocking calls: waiting for the next invocation
 * blocks the event loop, as AWS's native runtime client does (and as a frozen environment
 * would), and the channel never shows up in the event loop, so Node's 'beforeExit' tells when
 * the function's own work is done (AWS's callbackWaitsForEmptyEventLoop). Blocking calls also
 * spare loading Node's 'net' module, which costs milliseconds at every cold start.
 */

'use strict';

const fs = require('fs');

const INVOKE = 1;
const READY = 2;
const INIT_ERROR = 3;
const RESPONSE = 4;
const ERROR = 5;
const RESPONSE_CHUNK = 6;
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

function readExactly(fd, buffer, size) {
  let got = 0;
  while (got < size) {
    const count = retrying(() => fs.readSync(fd, buffer, got, size - got, null));
    if (count === 0) {
      if (got === 0) return false;
      throw new Error('the control socket ended inside a frame');
    }
    got += count;
  }
  return true;
}

function retrying(call) {
  for (;;) {
    try {
      return call();
    } catch (e) {
      if (e.code !== 'EINTR' && e.code !== 'EAGAIN') throw e;
    }
  }
}

/** The control socket, used with blocking reads and writes on its descriptor. */
class Channel {
  constructor(fd) {
    this.fd = fd;
    this.prefix = Buffer.allocUnsafe(4);
  }

  /** The next frame; null once the host has closed the channel. */
  receive() {
    if (!readExactly(this.fd, this.prefix, 4)) return null;
    const length = this.prefix.readUInt32BE(0);
    if (length > MAX_FRAME_BYTES) throw new Error(`frame of ${length} bytes exceeds the limit`);
    const frame = Buffer.allocUnsafe(length);
    if (!readExactly(this.fd, frame, length)) throw new Error('the control socket ended');
    return decode(frame);
  }

  send(kind, header, body) {
    const data = encode(kind, header, body || Buffer.alloc(0));
    let sent = 0;
    while (sent < data.length) {
      sent += retrying(() => fs.writeSync(this.fd, data, sent, data.length - sent));
    }
  }
}

module.exports = { Channel, encode, INVOKE, READY, INIT_ERROR, RESPONSE, ERROR, RESPONSE_CHUNK };
