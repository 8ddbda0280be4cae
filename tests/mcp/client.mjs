// The official MCP SDK (@modelcontextprotocol/sdk) as an MCP client, for Authdesk's tests
// to drive: connects, optionally lists the tools, calls some, and prints one JSON document.
//
//   node client.mjs stdio '<plan>' -- <command> [args...]   (the command gets our environment)
//   MCP_BEARER=<token> node client.mjs http <url> '<plan>'   (MCP_BEARER optional)
//
// plan: {"list": true, "calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}], "timeoutMs": 20000}
//
// stdout: {"serverInfo": {...}, "serverCapabilities": {...}, "instructions"?, "protocolVersion"? (http),
//          "tools": [{name, description, inputSchema}, ...]            (only with "list": true;
//                                                                        "listError" if it failed)
//          "calls": [{"name", "ok": true, "result": <CallToolResult>}   (isError results too)
//                  | {"name", "ok": false, "error": {"code", "message", "httpStatus"?, "wwwAuthenticate"?}}]}
// or, when connecting fails: {"connectError": "<message>", "httpStatus": <n>?, "wwwAuthenticate": "..."?}
// Exit status 0 but for usage errors (2). Over HTTP, httpStatus/wwwAuthenticate are those of
// the last HTTP answer that was not a success (e.g. 401, or 403 insufficient_scope).
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const usage = () => {
  process.stderr.write(
    'usage: node client.mjs stdio <json-plan> -- <command> [args...]\n'
    + '       [MCP_BEARER=<token>] node client.mjs http <url> <json-plan>\n',
  );
  process.exit(2);
};

const parsePlan = (text) => {
  try {
    const plan = JSON.parse(text);
    if (typeof plan !== 'object' || plan === null || Array.isArray(plan)) throw new Error('not an object');
    if (plan.calls !== undefined && !Array.isArray(plan.calls)) throw new Error('calls is not an array');
    return plan;
  } catch (err) {
    process.stderr.write(`client.mjs: bad plan ${JSON.stringify(text)}: ${err.message}\n`);
    return usage();
  }
};

const [mode, ...rest] = process.argv.slice(2);
let plan;
let transport;
// The last HTTP answer that was not 2xx (http mode), to report its status and challenge.
let lastFailure;

if (mode === 'stdio') {
  const [planText, dashes, command, ...args] = rest;
  if (planText === undefined || dashes !== '--' || !command) usage();
  plan = parsePlan(planText);
  transport = new StdioClientTransport({ command, args, env: { ...process.env }, stderr: 'inherit' });
} else if (mode === 'http') {
  const [url, planText, ...extra] = rest;
  if (!url || planText === undefined || extra.length) usage();
  let parsedUrl;
  try { parsedUrl = new URL(url); } catch { usage(); }
  plan = parsePlan(planText);
  const headers = process.env.MCP_BEARER ? { Authorization: `Bearer ${process.env.MCP_BEARER}` } : {};
  const recordingFetch = async (input, init) => {
    const response = await fetch(input, init);
    if (!response.ok) {
      lastFailure = { httpStatus: response.status, wwwAuthenticate: response.headers.get('www-authenticate') ?? undefined };
    }
    return response;
  };
  transport = new StreamableHTTPClientTransport(parsedUrl, { requestInit: { headers }, fetch: recordingFetch });
} else {
  usage();
}

const timeout = Number(plan.timeoutMs || 20000);

// An error's JSON form: JSON-RPC errors keep their code; HTTP ones say the status.
function describe(err) {
  const out = { code: err?.code ?? null, message: String(err?.message ?? err) };
  if (err?.data !== undefined) out.data = err.data;
  if (err instanceof StreamableHTTPError && typeof err.code === 'number' && err.code > 0) out.httpStatus = err.code;
  if (lastFailure && (out.httpStatus === undefined || out.httpStatus === lastFailure.httpStatus)) {
    out.httpStatus = lastFailure.httpStatus;
    if (lastFailure.wwwAuthenticate !== undefined) out.wwwAuthenticate = lastFailure.wwwAuthenticate;
  }
  return out;
}

async function main() {
  const client = new Client({ name: 'sdk-test-agent', version: '1.0.0' });
  client.onerror = (err) => {
    // Closing aborts the SDK's open streams; that is no news.
    if (err?.name === 'AbortError' || /AbortError|aborted/.test(String(err?.message))) return;
    process.stderr.write(`client.mjs: ${err?.message ?? err}\n`);
  };
  const closing = (closable) => Promise.race([
    closable.close().catch(() => {}), new Promise((resolve) => { setTimeout(resolve, 2000); }),
  ]);

  try {
    await client.connect(transport, { timeout });
  } catch (err) {
    const { message, httpStatus, wwwAuthenticate } = describe(err);
    const failure = { connectError: message };
    if (httpStatus !== undefined) failure.httpStatus = httpStatus;
    if (wwwAuthenticate !== undefined) failure.wwwAuthenticate = wwwAuthenticate;
    await closing(transport);
    return failure;
  }

  const output = {
    serverInfo: client.getServerVersion(),
    serverCapabilities: client.getServerCapabilities(),
  };
  if (client.getInstructions()) output.instructions = client.getInstructions();
  if (transport.protocolVersion) output.protocolVersion = transport.protocolVersion;

  if (plan.list) {
    try {
      const tools = [];
      let cursor;
      do {
        const page = await client.listTools(cursor ? { cursor } : {}, { timeout });
        tools.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
      output.tools = tools.map(({ name, description, inputSchema }) => ({ name, description, inputSchema }));
    } catch (err) {
      output.listError = describe(err);
    }
  }

  output.calls = [];
  for (const call of plan.calls || []) {
    lastFailure = undefined;
    try {
      const result = await client.callTool({ name: call.name, arguments: call.arguments ?? {} }, undefined, { timeout });
      output.calls.push({ name: call.name, ok: true, result });
    } catch (err) {
      output.calls.push({ name: call.name, ok: false, error: describe(err) });
    }
  }

  await closing(client);
  return output;
}

const value = await main();
process.stdout.write(`${JSON.stringify(value)}\n`, () => process.exit(0));
