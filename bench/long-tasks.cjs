/**
 * Preloaded into flowlens by `bench/gateway.ts --long-tasks FILE` (node
 * --require): every timer and immediate callback that holds the event loop
 * longer than 20 ms is written to FILE with its length and where it was
 * scheduled. The API's p99 is made of these: this says which turn to split.
 * CommonJS, so that it can wrap the timers before any module is loaded.
 */
'use strict';
const { performance } = require('node:perf_hooks');
const fs = require('node:fs');

const out = fs.openSync(process.env.FLOWLENS_LONG_TASKS, 'w');
const LONG_MS = 20;
for (const name of ['setImmediate', 'setTimeout', 'setInterval']) {
  const original = global[name];
  global[name] = function scheduled(callback, ...rest) {
    if (typeof callback !== 'function') return original.call(this, callback, ...rest);
    // where it was scheduled: the callback's own name is often anonymous
    const where = new Error().stack.split('\n').slice(2, 5).map((l) => l.trim().replace(/\(.*\/dist\//, '(')).join(' | ');
    const timed = function timed(...args) {
      const start = performance.now();
      try {
        return callback.apply(this, args);
      } finally {
        const ms = performance.now() - start;
        if (ms > LONG_MS) fs.writeSync(out, `${Date.now()} ${ms.toFixed(1)} ms ${name} ${where}\n`);
      }
    };
    return original.call(this, timed, ...rest);
  };
}
