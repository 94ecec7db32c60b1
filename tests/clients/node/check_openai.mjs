#!/usr/bin/env node
// The official `openai` npm package against AutBot's OpenAI-compatible endpoint.
//
// Run by tests/e2e/openai_sdks.rs against a real server answering with a fake model;
// runnable by hand against any AutBot server:
//
//     node tests/clients/node/check_openai.mjs \
//         --base-url http://127.0.0.1:8080/v1 --api-key KEY [--expect-content TEXT]
//
// (node_modules comes from scripts/setup-test-deps.sh: `npm ci` in this folder).
// Arguments default to the environment: AUTBOT_BASE_URL, AUTBOT_API_KEY,
// AUTBOT_EXPECT_CONTENT, AUTBOT_TOO_LONG_CHARS.
//
// Checks: the model list names `autbot`; a plain completion (content, finish_reason,
// usage, id, the `autbot` extension with its sources); a streamed one with
// `stream_options.include_usage` (the deltas add up to the plain answer, a "stop"
// finish_reason, a last chunk with usage and no choices); and the errors the SDK
// throws: a wrong key (AuthenticationError, 401), a question over the length limit
// (UnprocessableEntityError, 422), unsupported parameters `n: 2` and `tools`
// (BadRequestError, 400).
//
// Prints a JSON summary on stdout; exits 1 if any check failed (each failure is also
// printed on stderr), 2 on bad usage.

import { parseArgs } from 'node:util';
import OpenAI from 'openai';
import { VERSION } from 'openai/version';

const QUESTION = 'How do I change the port the server listens on?';

class CheckFailed extends Error {}

function expect(cond, message) {
  if (!cond) throw new CheckFailed(message);
}

function describeError(e) {
  const out = { class: e?.constructor?.name ?? typeof e };
  if (e instanceof OpenAI.APIError) {
    Object.assign(out, {
      status: e.status,
      type: e.type,
      code: e.code,
      param: e.param,
      message: e.message,
    });
  } else {
    out.message = String(e?.message ?? e);
  }
  return out;
}

const results = [];

async function check(name, fn) {
  try {
    const detail = await fn();
    results.push({ name, ok: true, detail });
    return detail;
  } catch (e) {
    if (e instanceof CheckFailed) {
      results.push({ name, ok: false, error: e.message });
    } else {
      results.push({
        name,
        ok: false,
        error: `unexpected ${e?.constructor?.name}: ${e?.message ?? e}`,
        raised: describeError(e),
        stack: String(e?.stack ?? '').split('\n').slice(0, 4).join('\n'),
      });
    }
    return undefined;
  }
}

// `call` must throw exactly `cls` with `status`.
async function expectError(call, cls, status) {
  try {
    await call();
  } catch (e) {
    if (!(e instanceof OpenAI.APIError)) throw e;
    const got = describeError(e);
    expect(
      e.constructor === cls,
      `expected ${cls.name} (${status}), the SDK threw ${JSON.stringify(got)}`,
    );
    expect(e.status === status, `expected status ${status}: ${JSON.stringify(got)}`);
    expect(
      e.error && typeof e.error.message === 'string',
      `the error body is not OpenAI's {error: {message, type, param, code}}: ${JSON.stringify(e.error)}`,
    );
    return got;
  }
  throw new CheckFailed(`expected ${cls.name} (${status}), the call succeeded`);
}

function usageOk(u) {
  return (
    u != null &&
    u.total_tokens === u.prompt_tokens + u.completion_tokens &&
    u.total_tokens > 0
  );
}

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        'base-url': { type: 'string', default: process.env.AUTBOT_BASE_URL },
        'api-key': { type: 'string', default: process.env.AUTBOT_API_KEY },
        'expect-content': { type: 'string', default: process.env.AUTBOT_EXPECT_CONTENT },
        'too-long-chars': {
          type: 'string',
          default: process.env.AUTBOT_TOO_LONG_CHARS ?? '4000',
        },
      },
    }));
  } catch (e) {
    console.error(`check_openai.mjs: ${e.message}`);
    return 2;
  }
  const baseURL = values['base-url'];
  const apiKey = values['api-key'];
  const expectContent = values['expect-content'];
  const tooLong = Number.parseInt(values['too-long-chars'], 10);
  if (!baseURL || !apiKey || !Number.isFinite(tooLong)) {
    console.error(
      'usage: node check_openai.mjs --base-url URL --api-key KEY [--expect-content TEXT] [--too-long-chars N]\n' +
        '(or AUTBOT_BASE_URL, AUTBOT_API_KEY, AUTBOT_EXPECT_CONTENT, AUTBOT_TOO_LONG_CHARS)',
    );
    return 2;
  }

  // No retries: every status the server answers is seen as it is.
  const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60_000 });
  const messages = [{ role: 'user', content: QUESTION }];

  await check('models.list', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids.includes('autbot'), `models.list() ids ${JSON.stringify(ids)} do not include 'autbot'`);
    return { ids };
  });

  const plain = await check('chat.completions.create', async () => {
    const resp = await client.chat.completions.create({ model: 'autbot', messages });
    expect(resp.id?.startsWith('chatcmpl-'), `id ${JSON.stringify(resp.id)} does not start with chatcmpl-`);
    expect(resp.object === 'chat.completion', `object ${JSON.stringify(resp.object)}`);
    expect(resp.model === 'autbot', `model ${JSON.stringify(resp.model)}`);
    expect(resp.choices?.length === 1, `${resp.choices?.length} choices`);
    const choice = resp.choices[0];
    const content = choice.message?.content;
    expect(choice.message?.role === 'assistant', `role ${JSON.stringify(choice.message?.role)}`);
    expect(typeof content === 'string' && content.length > 0, `empty content: ${JSON.stringify(content)}`);
    if (expectContent !== undefined) {
      expect(
        content === expectContent,
        `content ${JSON.stringify(content)} is not the model's reply ${JSON.stringify(expectContent)}`,
      );
    }
    expect(choice.finish_reason === 'stop', `finish_reason ${JSON.stringify(choice.finish_reason)}`);
    expect(usageOk(resp.usage), `usage ${JSON.stringify(resp.usage)}`);
    const ext = resp.autbot;
    expect(ext && typeof ext === 'object', `no 'autbot' extension field: ${JSON.stringify(resp).slice(0, 500)}`);
    expect(
      Array.isArray(ext.sources) && ext.sources.length > 0,
      `autbot.sources missing or empty: ${JSON.stringify(ext)}`,
    );
    for (const s of ext.sources) {
      expect(typeof s?.source === 'string', `a source without 'source': ${JSON.stringify(s)}`);
    }
    return {
      id: resp.id,
      content,
      usage: resp.usage,
      system_fingerprint: resp.system_fingerprint,
      request_id: ext.request_id,
      sources: ext.sources.map((s) => s.source),
    };
  });

  await check('chat.completions.create({stream: true})', async () => {
    const stream = await client.chat.completions.create({
      model: 'autbot',
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length > 0, 'no chunks');
    const ids = [...new Set(chunks.map((c) => c.id))];
    expect(ids.length === 1, `chunks carry different ids: ${JSON.stringify(ids)}`);
    expect(ids[0]?.startsWith('chatcmpl-'), `id ${JSON.stringify(ids[0])} does not start with chatcmpl-`);
    const objects = [...new Set(chunks.map((c) => c.object))];
    expect(
      objects.length === 1 && objects[0] === 'chat.completion.chunk',
      `objects ${JSON.stringify(objects)}`,
    );
    const first = chunks[0];
    expect(
      first.choices?.[0]?.delta?.role === 'assistant',
      `the first chunk has no assistant role: ${JSON.stringify(first)}`,
    );
    expect(
      first.autbot && Array.isArray(first.autbot.sources),
      `the first chunk has no autbot.sources: ${JSON.stringify(first)}`,
    );
    const pieces = [];
    const finish = [];
    for (const c of chunks) {
      for (const choice of c.choices ?? []) {
        if (choice.delta?.content) pieces.push(choice.delta.content);
        if (choice.finish_reason != null) finish.push(choice.finish_reason);
      }
    }
    const text = pieces.join('');
    expect(
      finish.length === 1 && finish[0] === 'stop',
      `finish_reasons ${JSON.stringify(finish)}, expected one 'stop'`,
    );
    if (plain !== undefined) {
      expect(
        text === plain.content,
        `the streamed text ${JSON.stringify(text)} is not the plain answer ${JSON.stringify(plain.content)}`,
      );
    } else if (expectContent !== undefined) {
      expect(
        text === expectContent,
        `the streamed text ${JSON.stringify(text)} is not the model's reply ${JSON.stringify(expectContent)}`,
      );
    }
    const last = chunks[chunks.length - 1];
    expect(
      Array.isArray(last.choices) && last.choices.length === 0,
      `the last chunk has choices: ${JSON.stringify(last)}`,
    );
    expect(usageOk(last.usage), `the last chunk's usage: ${JSON.stringify(last)}`);
    expect(
      chunks.slice(0, -1).every((c) => c.usage == null),
      'usage on a chunk before the last',
    );
    return { chunks: chunks.length, content_deltas: pieces.length, usage: last.usage };
  });

  const badKey = new OpenAI({ baseURL, apiKey: 'sk-wrong-key', maxRetries: 0, timeout: 60_000 });
  await check('a wrong API key', () =>
    expectError(
      () => badKey.chat.completions.create({ model: 'autbot', messages }),
      OpenAI.AuthenticationError,
      401,
    ),
  );
  const longQuestion = 'how '.repeat(Math.floor(tooLong / 4) + 1).trim();
  await check('a question over the length limit', () =>
    expectError(
      () =>
        client.chat.completions.create({
          model: 'autbot',
          messages: [{ role: 'user', content: longQuestion }],
        }),
      OpenAI.UnprocessableEntityError,
      422,
    ),
  );
  await check('unsupported n: 2', () =>
    expectError(
      () => client.chat.completions.create({ model: 'autbot', messages, n: 2 }),
      OpenAI.BadRequestError,
      400,
    ),
  );
  const tools = [
    {
      type: 'function',
      function: {
        name: 'get_port',
        description: 'The port the server listens on',
        parameters: { type: 'object', properties: {} },
      },
    },
  ];
  await check('unsupported tools', () =>
    expectError(
      () => client.chat.completions.create({ model: 'autbot', messages, tools }),
      OpenAI.BadRequestError,
      400,
    ),
  );

  const failed = results.filter((r) => !r.ok);
  const summary = {
    sdk: 'openai (npm)',
    version: VERSION,
    node: process.version,
    base_url: baseURL,
    ok: failed.length === 0,
    checks: results,
  };
  console.log(JSON.stringify(summary, null, 2));
  for (const r of failed) console.error(`FAILED: ${r.name}: ${r.error}`);
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main();
