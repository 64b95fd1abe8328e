'use strict';
/**
 * One warm Lambda "container" for a nodejs function: the Node.js twin of lambda_worker.py.
 *
 * Started by `lambda_sandbox.spawn` (through `lambda_worker.py --exec`, which confines the process
 * first) as `node lambda_worker.js <task_root> <module.handler> <lifeline fd> <wire fd>`, with the
 * function's environment (nothing of the server's), in its private /tmp folder, leading its own
 * process group. It uses Node's built-in modules only: no npm install, no network.
 *
 * A worker thread watches the lifeline: when the server closes the pipe or dies, even by SIGKILL,
 * it removes the /tmp folder (only if it is the private one the server made) and kills this
 * process group, the handler's children included. A thread, not the main event loop, so that a
 * handler stuck in a loop cannot delay it.
 *
 * Wire (JSON lines, as lambda_worker.py's): requests on stdin, replies on <wire fd>; the
 * handler's console output and stdout/stderr writes are captured per invocation as log text.
 *   request : {"request_id", "event" (JSON text), "deadline_ms", "function_arn"}
 *   response: {"ok", "payload" (JSON text) | "error": {errorType, errorMessage, trace}, "logs"}
 *             (+ "exit": true when the handler's code crashed the process: the server replaces it)
 * The first line, sent before any request, is {"ready": true, "init_logs"} once the handler is loaded.
 *
 * What AWS's Node.js runtime does and this keeps: handlers `async (event, context)`,
 * `(event, context, callback)`, CommonJS (.js, .cjs) and ES modules (.mjs, or .js under
 * "type": "module"); errors as {"errorType", "errorMessage", "trace"}; Runtime.ImportModuleError,
 * Runtime.HandlerNotFound, Runtime.UserCodeSyntaxError, Runtime.MalformedHandlerName; console
 * lines as `<ISO time>\t<request id>\t<LEVEL>\t<message>`.
 */

const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const util = require('node:util');
const { createRequire } = require('node:module');
const { pathToFileURL } = require('node:url');
const { Worker } = require('node:worker_threads');

const [taskRoot, handlerSpec, lifelineFd, wireFd] = process.argv.slice(2);

// --- the wire ---------------------------------------------------------------------------------

function send(message) {
  const data = Buffer.from(JSON.stringify(message) + '\n');
  for (let offset = 0; offset < data.length;) {
    offset += fs.writeSync(Number(wireFd), data, offset);
  }
}

// --- the lifeline -----------------------------------------------------------------------------

const LIFELINE_THREAD = `
const fs = require('node:fs');
const path = require('node:path');
const { workerData: { fd, tmp } } = require('node:worker_threads');
const buffer = Buffer.alloc(64);
const pause = new Int32Array(new SharedArrayBuffer(4));
for (;;) {  // blocking reads: only end-of-file (the server closed it or died) ends the loop
  try {
    if (fs.readSync(fd, buffer) === 0) break;
  } catch (err) {
    if (err.code !== 'EAGAIN') break;
    Atomics.wait(pause, 0, 0, 100);
  }
}
// only the private folder the server made (.../workshop-lambda-*/tmp-*), never anything else
if (path.basename(tmp).startsWith('tmp-') && path.basename(path.dirname(tmp)).startsWith('workshop-lambda-')) {
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.kill(-process.pid, 'SIGKILL');
`;

function watchLifeline(fd, tmp) {
  new Worker(LIFELINE_THREAD, { eval: true, workerData: { fd, tmp } }).unref();
}

// --- logs -------------------------------------------------------------------------------------

let requestId = 'undefined'; // what AWS's runtime prints outside an invocation
let captured = [];

function logLine(level, args) {
  captured.push(`${new Date().toISOString()}\t${requestId}\t${level}\t${util.format(...args)}\n`);
}

function captureOutput() {
  console.log = console.info = (...args) => logLine('INFO', args);
  console.warn = (...args) => logLine('WARN', args);
  console.error = (...args) => logLine('ERROR', args);
  console.debug = (...args) => logLine('DEBUG', args);
  console.trace = (...args) => logLine('TRACE', [util.format(...args), new Error().stack.split('\n').slice(2).join('\n')]);
  for (const stream of [process.stdout, process.stderr]) {
    stream.write = (chunk, encoding, done) => {
      captured.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      (typeof encoding === 'function' ? encoding : done)?.();
      return true;
    };
  }
}

function take() {
  const text = captured.join('');
  captured = [];
  return text;
}

// --- errors -----------------------------------------------------------------------------------

/** AWS's shape for an error: {errorType, errorMessage, trace} (a thrown non-Error: its type and text). */
function errorDoc(err) {
  if (util.types.isNativeError(err) || (err instanceof Object && 'message' in err && 'stack' in err)) {
    return { errorType: err.name, errorMessage: err.message, trace: String(err.stack).split('\n') };
  }
  return { errorType: typeof err, errorMessage: String(err), trace: [] };
}

/** A Runtime.* error (how the runtime reports a handler it cannot load), with the cause's frames. */
function runtimeError(errorType, errorMessage, cause) {
  const frames = cause?.stack ? String(cause.stack).split('\n').filter((line) => line.startsWith('    at ')) : [];
  return { errorType, errorMessage, trace: [...`${errorType}: ${errorMessage}`.split('\n'), ...frames] };
}

const SDK_HINT = (name) => `The local AWS has no AWS SDK for JavaScript (AWS's Node.js runtimes include it): `
  + `bundle ${name} in your zip (npm install ${name}, then zip node_modules with your code)`;

function loadError(err) {
  if (err instanceof SyntaxError) {
    return runtimeError('Runtime.UserCodeSyntaxError', String(err), err);
  }
  if (err?.code === 'MODULE_NOT_FOUND' || err?.code === 'ERR_MODULE_NOT_FOUND') {
    const missing = /Cannot find (?:module|package) '([^']+)'/.exec(err.message)?.[1] || '';
    const hint = missing.startsWith('@aws-sdk/') ? `\n${SDK_HINT(missing)}` : '';
    return runtimeError('Runtime.ImportModuleError', String(err) + hint, err);
  }
  return errorDoc(err); // an exception thrown by the module's own code at load
}

// --- loading the handler ----------------------------------------------------------------------

/** The module named by the handler setting, as AWS's runtime finds it: <root>/<module>.js, .mjs, .cjs, else a package. */
async function importModule(moduleName) {
  const base = path.resolve(taskRoot, moduleName);
  for (const ext of ['.js', '.mjs', '.cjs']) {
    const file = base + ext;
    if (!fs.existsSync(file)) continue;
    if (ext === '.mjs') return import(pathToFileURL(file).href);
    try {
      return require(file);
    } catch (err) {
      if (err.code !== 'ERR_REQUIRE_ESM') throw err; // a .js ES module ("type": "module")
      return import(pathToFileURL(file).href);
    }
  }
  return createRequire(path.join(taskRoot, '/'))(moduleName); // throws "Cannot find module '<name>'"
}

/** [handler function, null] or [null, the error every invocation reports]. */
async function load(spec) {
  const dot = path.basename(spec).indexOf('.');
  if (dot < 0) {
    return [null, runtimeError('Runtime.MalformedHandlerName', `Bad handler ${spec}`)];
  }
  const cut = spec.length - path.basename(spec).length + dot;
  const moduleName = spec.slice(0, cut);
  let found;
  try {
    found = await importModule(moduleName);
  } catch (err) {
    return [null, loadError(err)];
  }
  for (const part of spec.slice(cut + 1).split('.')) {
    found = found == null ? undefined : found[part];
  }
  if (found === undefined) {
    return [null, runtimeError('Runtime.HandlerNotFound', `${spec} is undefined or not exported`)];
  }
  if (typeof found !== 'function') {
    return [null, runtimeError('Runtime.HandlerNotFound', `${spec} is not a function`)];
  }
  return [found, null];
}

// --- invoking ---------------------------------------------------------------------------------

function makeContext(req) {
  const env = process.env;
  return {
    awsRequestId: req.request_id,
    functionName: env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: req.function_arn,
    memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, Math.floor(req.deadline_ms - Date.now())),
  };
}

let crashed = null; // rejects the invocation in progress when the handler's code crashes the process
let exiting = false; // set by a crash: the reply says so, and the process ends once it is sent

/** The handler's result: an async handler's promise, or what a callback-style handler passes to its callback. */
function callHandler(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const succeed = (value) => { if (!settled) { settled = true; resolve(value); } };
    const fail = (err) => { if (!settled) { settled = true; reject(err); } };
    crashed = fail;
    let out;
    try {
      out = handler(event, context, (err, value) => (err == null ? succeed(value) : fail(err)));
    } catch (err) {
      fail(err);
      return;
    }
    if (out && typeof out.then === 'function') {
      out.then(succeed, fail);
    } else if (handler.length < 3) {
      succeed(null); // neither a promise nor a callback: AWS answers null
    }
  });
}

async function invoke(handler, req) {
  requestId = req.request_id;
  let reply;
  try {
    const event = req.event ? JSON.parse(req.event) : {};
    const result = await callHandler(handler, event, makeContext(req));
    let payload;
    try {
      payload = JSON.stringify(result === undefined ? null : result);
    } catch (err) {
      throw Object.assign(new Error(`Unable to stringify response body: ${err.message}`), { name: 'Runtime.MarshalError' });
    }
    reply = { ok: true, payload };
  } catch (err) {
    const error = errorDoc(err);
    logLine('ERROR', [`Invoke Error \t${JSON.stringify({ ...error, trace: undefined, stack: error.trace })}`]);
    reply = { ok: false, error };
  } finally {
    crashed = null;
  }
  reply.logs = take();
  if (exiting) {
    reply.exit = true; // the server kills this worker and starts a fresh one, as AWS does after a crash
  }
  send(reply);
  if (exiting) {
    process.exit(1);
  }
}

/** An uncaught exception or unhandled rejection: the invocation in progress fails with it, then the worker ends. */
function onCrash(err) {
  if (!crashed) {
    process.exit(1);
  }
  exiting = true;
  crashed(err);
}

async function main() {
  watchLifeline(Number(lifelineFd), process.cwd()); // started in its /tmp folder
  captureOutput();
  process.on('uncaughtException', onCrash);
  process.on('unhandledRejection', (reason) => onCrash(Object.assign(
    new Error(String(reason)), { name: 'Runtime.UnhandledPromiseRejection' })));
  const [handler, initError] = await load(handlerSpec);
  send({ ready: true, init_logs: take() });
  for await (const line of readline.createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const req = JSON.parse(line);
    if (initError) {
      requestId = req.request_id;
      logLine('ERROR', [`Uncaught Exception \t${JSON.stringify({ ...initError, trace: undefined, stack: initError.trace })}`]);
      send({ ok: false, error: initError, logs: take() });
      continue;
    }
    await invoke(handler, req);
  }
  process.exit(0);
}

main();
