// Drives a running `gemma4 serve` with the official `openai` npm package and raw HTTP (fetch).
// Usage: node openai_client.cjs BASE_URL API_KEY MODEL_ID
// The model has random weights: tests rely on greedy decoding, small max_tokens and constrained
// decoding, never on what the model "chooses". Prints one line per check; exits 1 on any failure.
'use strict';
const assert = require('node:assert/strict');
const OpenAI = require('openai');

const [base, apiKey, model] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0, timeout: 60000 });

const results = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push([true, name]);
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push([false, name]);
    console.log(`FAIL - ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

const user = (text) => [{ role: 'user', content: text }];

async function collectChat(params, signal) {
  const stream = await client.chat.completions.create({ ...params, stream: true }, signal ? { signal } : undefined);
  const out = { content: '', reasoning: '', toolCalls: [], finish: null, usage: null, chunks: 0, role: null };
  for await (const chunk of stream) {
    out.chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) out.usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta.role) out.role = c.delta.role;
      if (c.delta.content) out.content += c.delta.content;
      if (c.delta.reasoning_content) out.reasoning += c.delta.reasoning_content;
      if (c.delta.tool_calls) out.toolCalls.push(...c.delta.tool_calls);
      if (c.finish_reason) out.finish = c.finish_reason;
    }
  }
  return out;
}

async function raw(method, path, body, headers = {}) {
  const h = { Authorization: `Bearer ${apiKey}`, ...headers };
  if (body !== undefined && typeof body !== 'string') body = JSON.stringify(body);
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(`${base}${path}`, { method, headers: h, body });
  const text = await r.text();
  let json = null;
  try { json = JSON.parse(text); } catch {}
  return { status: r.status, text, json, headers: r.headers };
}

function assertError(r, status, param) {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.ok(r.json && r.json.error, `no error object: ${r.text}`);
  assert.equal(typeof r.json.error.message, 'string');
  assert.ok(r.json.error.message.length > 0);
  assert.equal(typeof r.json.error.type, 'string');
  assert.ok('param' in r.json.error && 'code' in r.json.error);
  if (param !== undefined) assert.equal(r.json.error.param, param);
}

async function metricValue(name) {
  const r = await fetch(`${base}/metrics`);
  const text = await r.text();
  for (const line of text.split('\n')) {
    if (line.startsWith(name + ' ')) return Number(line.slice(name.length + 1));
  }
  return NaN;
}

const greedy = { model, temperature: 0 };

(async () => {
  await check('models.list', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    assert.deepEqual(ids, [model]);
  });

  let plain;
  await check('plain chat', async () => {
    const r = await client.chat.completions.create({ ...greedy, messages: user('Say hello.'), max_tokens: 8 });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, model);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0].message.role, 'assistant');
    assert.equal(typeof r.choices[0].message.content, 'string');
    assert.ok(['stop', 'length'].includes(r.choices[0].finish_reason));
    assert.ok(r.usage.prompt_tokens > 5);
    assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 8);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    plain = r;
  });

  await check('greedy determinism (same request twice, prefix cache reused)', async () => {
    const r = await client.chat.completions.create({ ...greedy, messages: user('Say hello.'), max_tokens: 8 });
    assert.equal(r.choices[0].message.content, plain.choices[0].message.content);
    assert.equal(r.usage.completion_tokens, plain.usage.completion_tokens);
    assert.ok(r.usage.prompt_tokens_details.cached_tokens > 0, 'the repeated prompt should hit the prefix cache');
  });

  await check('streamed chat equals the plain answer, with usage', async () => {
    const s = await collectChat({ ...greedy, messages: user('Say hello.'), max_tokens: 8, stream_options: { include_usage: true } });
    assert.equal(s.role, 'assistant');
    assert.equal(s.content, plain.choices[0].message.content);
    assert.equal(s.finish, plain.choices[0].finish_reason);
    assert.ok(s.usage && s.usage.completion_tokens === plain.usage.completion_tokens);
  });

  await check('system/user/assistant/tool history with sampling parameters', async () => {
    const r = await client.chat.completions.create({
      model,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 21}' },
      ],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      temperature: 0.7, top_p: 0.9, top_k: 40, min_p: 0.05, seed: 42, presence_penalty: 0.5, frequency_penalty: 0.5,
      stop: ['\n\n'], max_completion_tokens: 6,
    });
    assert.ok(r.usage.completion_tokens <= 6);
    const again = await client.chat.completions.create({
      model, messages: user('Pick a word.'), temperature: 1, seed: 7, max_tokens: 6 });
    const again2 = await client.chat.completions.create({
      model, messages: user('Pick a word.'), temperature: 1, seed: 7, max_tokens: 6 });
    assert.equal(again.choices[0].message.content, again2.choices[0].message.content, 'same seed, same text');
  });

  await check('completions (plain and streamed)', async () => {
    const r = await client.completions.create({ ...greedy, prompt: 'Once upon a time', max_tokens: 6 });
    assert.equal(r.object, 'text_completion');
    assert.equal(typeof r.choices[0].text, 'string');
    assert.ok(r.usage.completion_tokens >= 1 && r.usage.completion_tokens <= 6);
    const stream = await client.completions.create({ ...greedy, prompt: 'Once upon a time', max_tokens: 6, stream: true });
    let text = '';
    let finish = null;
    for await (const c of stream) {
      text += c.choices[0].text;
      if (c.choices[0].finish_reason) finish = c.choices[0].finish_reason;
    }
    assert.equal(text, r.choices[0].text);
    assert.equal(finish, r.choices[0].finish_reason);
  });

  await check('16 concurrent streams, each equal to its sequential answer', async () => {
    const prompts = Array.from({ length: 16 }, (_, i) => `Request number ${i}: tell me about the number ${i * 7}.`);
    const params = (p) => ({ ...greedy, messages: user(p), max_tokens: 10 });
    const together = await Promise.all(prompts.map((p) => collectChat(params(p))));
    for (const s of together) {
      assert.ok(s.finish === 'length' || s.finish === 'stop', `finish_reason ${s.finish}`);
      assert.ok(s.chunks >= 3);
    }
    for (const i of [0, 5, 15]) {
      const alone = await client.chat.completions.create(params(prompts[i]));
      assert.equal(together[i].content, alone.choices[0].message.content, `stream ${i} differs from its sequential answer`);
    }
    const passes = await metricValue('g4_forward_passes_total');
    const tokens = await metricValue('g4_batch_tokens_total');
    assert.ok(tokens > passes, 'batched passes carry more than one token on average');
  });

  const weatherTool = {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather for a city.',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 12 }, unit: { type: 'string', enum: ['celsius', 'fahrenheit'] } },
        required: ['city', 'unit'],
        additionalProperties: false,
      },
    },
  };
  const timeTool = {
    type: 'function',
    function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string', enum: ['utc', 'local'] } }, required: ['zone'], additionalProperties: false } },
  };

  await check('tool call forced by name, parsed into tool_calls', async () => {
    const r = await client.chat.completions.create({
      ...greedy, messages: user('What is the weather in Oslo?'), tools: [weatherTool, timeTool],
      tool_choice: { type: 'function', function: { name: 'get_weather' } }, max_tokens: 64,
    });
    const c = r.choices[0];
    assert.equal(c.finish_reason, 'tool_calls');
    assert.equal(c.message.tool_calls.length, 1);
    const call = c.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.ok(call.id.length > 0);
    assert.equal(call.function.name, 'get_weather');
    const args = JSON.parse(call.function.arguments);
    assert.equal(typeof args.city, 'string');
    assert.ok(args.city.length <= 12);
    assert.ok(['celsius', 'fahrenheit'].includes(args.unit));
    assert.deepEqual(Object.keys(args).sort(), ['city', 'unit']);
  });

  await check('tool call with tool_choice=required, streamed as deltas', async () => {
    const s = await collectChat({ ...greedy, messages: user('What time is it?'), tools: [weatherTool, timeTool], tool_choice: 'required', max_tokens: 64 });
    assert.equal(s.finish, 'tool_calls');
    assert.equal(s.toolCalls.length, 1);
    const call = s.toolCalls[0];
    assert.equal(call.index, 0);
    assert.ok(['get_weather', 'get_time'].includes(call.function.name));
    const args = JSON.parse(call.function.arguments);
    assert.equal(typeof args, 'object');
  });

  await check('response_format json_schema output parses and validates', async () => {
    const schema = {
      type: 'object',
      properties: {
        name: { type: 'string', maxLength: 16 },
        age: { type: 'integer' },
        tags: { type: 'array', items: { type: 'string', maxLength: 8 }, maxItems: 3 },
        ok: { type: 'boolean' },
      },
      required: ['name', 'age', 'tags', 'ok'],
      additionalProperties: false,
    };
    const r = await client.chat.completions.create({
      ...greedy, messages: user('Describe a person as JSON.'), max_tokens: 400,
      response_format: { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } },
    });
    assert.equal(r.choices[0].finish_reason, 'stop');
    const v = JSON.parse(r.choices[0].message.content);
    assert.equal(typeof v.name, 'string');
    assert.ok(Number.isInteger(v.age));
    assert.ok(Array.isArray(v.tags) && v.tags.length <= 3);
    assert.equal(typeof v.ok, 'boolean');
    assert.deepEqual(Object.keys(v).sort(), ['age', 'name', 'ok', 'tags']);
  });

  await check('errors through the client: 400, 401, 404', async () => {
    await assert.rejects(client.chat.completions.create({ model, messages: [] }), (e) => e.status === 400 && e.param === 'messages');
    await assert.rejects(client.chat.completions.create({ model, messages: user('x'), temperature: 5 }), (e) => e.status === 400 && e.param === 'temperature');
    await assert.rejects(client.chat.completions.create({ model, messages: user('x'), grammar: 'root ::= "a"' }), (e) => e.status === 400 && e.param === 'grammar');
    await assert.rejects(client.chat.completions.create({ model, messages: user('x'), n: 99 }), (e) => e.status === 400 && e.param === 'n');
    const bad = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'wrong-key', maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e) => e.status === 401);
  });

  await check('errors over raw HTTP', async () => {
    assertError(await raw('POST', '/v1/chat/completions', '{"model": "x", "messages": ['), 400);
    assertError(await raw('POST', '/v1/chat/completions', '[1,2]'), 400);
    assertError(await raw('POST', '/v1/chat/completions', { model }), 400, 'messages');
    assertError(await raw('POST', '/v1/chat/completions', { messages: user('x') }), 400, 'model');
    assertError(await raw('POST', '/v1/chat/completions', { model, messages: [{ role: 'wizard', content: 'x' }] }), 400, 'messages[0].role');
    assertError(await raw('POST', '/v1/chat/completions', { model, messages: [{ role: 'user' }] }), 400, 'messages[0].content');
    assertError(await raw('POST', '/v1/chat/completions', { model, messages: user('x'), temperature: 'hot' }), 400, 'temperature');
    assertError(await raw('POST', '/v1/chat/completions', { model, messages: user('x'), top_p: 1.5 }), 400, 'top_p');
    assertError(await raw('POST', '/v1/chat/completions', { model, messages: user('x'), max_tokens: -1 }), 400, 'max_tokens');
    assertError(await raw('POST', '/v1/chat/completions', { model, messages: user('x'), n: 17 }), 400, 'n');
    assertError(await raw('POST', '/v1/chat/completions', { model, messages: user('x'), frobnicate: true }), 400, 'frobnicate');
    assertError(await raw('POST', '/v1/chat/completions', { model, messages: user('x'), stop: 3 }), 400, 'stop');
    assertError(await raw('POST', '/v1/chat/completions', { model, messages: user('x'), tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'nope' } } }), 400, 'tool_choice');
    const unsupportedSchema = await raw('POST', '/v1/chat/completions', { model, messages: user('x'), response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', not: { required: ['a'] } } } } });
    assertError(unsupportedSchema, 400);
    assert.ok(unsupportedSchema.json.error.param.startsWith('response_format'), unsupportedSchema.text);
    assertError(await raw('POST', '/v1/chat/completions', { model, messages: user('word '.repeat(3000)) }), 400, 'messages');
    const long = await raw('POST', '/v1/chat/completions', { model, messages: user('word '.repeat(3000)) });
    assert.equal(long.json.error.code, 'context_length_exceeded');
    assertError(await raw('POST', '/v1/completions', { model, prompt: 'word '.repeat(3000) }), 400, 'prompt');
    assertError(await raw('POST', '/v1/completions', { model }), 400, 'prompt');
    assertError(await raw('GET', '/v1/nothing-here'), 404);
    assertError(await raw('POST', '/v2/chat/completions', { model, messages: user('x') }), 404);
    assertError(await raw('GET', '/v1/chat/completions'), 405);
    assertError(await raw('GET', '/v1/models', undefined, { Authorization: '' }), 401);
    assertError(await raw('GET', '/v1/models', undefined, { Authorization: 'Bearer nope' }), 401);
    const health = await raw('GET', '/health', undefined, { Authorization: '' });
    assert.equal(health.status, 200);
    assert.equal(health.json.status, 'ok');
  });

  await check('any model name is served by the one model, and named truly', async () => {
    const r = await client.chat.completions.create({ model: 'gpt-4o', messages: user('Hi'), max_tokens: 2, temperature: 0 });
    assert.equal(r.model, model);
    const m = await client.models.retrieve('gpt-4o');
    assert.equal(m.id, model);
  });

  let lpPlain;
  await check('chat logprobs (OpenAI shape), plain and streamed', async () => {
    const params = { ...greedy, messages: user('Name a colour.'), max_tokens: 5, logprobs: true, top_logprobs: 4 };
    const r = await client.chat.completions.create(params);
    const content = r.choices[0].logprobs.content;
    assert.ok(content.length >= 1 && content.length <= 5);
    for (const t of content) {
      assert.equal(typeof t.token, 'string');
      assert.ok(t.logprob <= 0);
      let text = null;
      try { text = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(t.bytes)); } catch {}
      if (text !== null) assert.equal(t.token, text, 'bytes are the token text');
      assert.equal(t.top_logprobs.length, 4);
      for (let i = 1; i < 4; i++) assert.ok(t.top_logprobs[i].logprob <= t.top_logprobs[i - 1].logprob);
      assert.equal(t.token, t.top_logprobs[0].token, 'greedy takes the most likely token');
    }
    assert.equal(r.choices[0].logprobs.refusal, null);
    lpPlain = content;
    const stream = await client.chat.completions.create({ ...params, stream: true });
    const streamed = [];
    for await (const chunk of stream) for (const c of chunk.choices) if (c.logprobs) streamed.push(...c.logprobs.content);
    assert.deepEqual(streamed.map((t) => t.token), content.map((t) => t.token));
  });

  await check('completions logprobs (legacy shape)', async () => {
    const r = await client.completions.create({ ...greedy, prompt: 'The sky is', max_tokens: 4, logprobs: 3 });
    const lp = r.choices[0].logprobs;
    assert.equal(lp.tokens.length, lp.token_logprobs.length);
    assert.equal(lp.tokens.length, lp.top_logprobs.length);
    assert.equal(lp.tokens.length, lp.text_offset.length);
    let offset = 0;
    lp.tokens.forEach((t, i) => {
      assert.equal(lp.text_offset[i], offset);
      offset += Buffer.byteLength(t, 'utf8');
      assert.ok(t in lp.top_logprobs[i]);
      assert.ok(Object.keys(lp.top_logprobs[i]).length <= 4);
    });
  });

  await check('n > 1: chat and completions, plain and streamed', async () => {
    const params = { model, messages: user('Give me a word.'), max_tokens: 4, n: 3, temperature: 1, seed: 123 };
    const r = await client.chat.completions.create(params);
    assert.deepEqual(r.choices.map((c) => c.index), [0, 1, 2]);
    const s = await client.chat.completions.create({ ...params, stream: true });
    const texts = ['', '', ''];
    const finishes = [null, null, null];
    for await (const chunk of s) {
      for (const c of chunk.choices) {
        if (c.delta.content) texts[c.index] += c.delta.content;
        if (c.finish_reason) finishes[c.index] = c.finish_reason;
      }
    }
    for (let i = 0; i < 3; i++) {
      assert.equal(texts[i], r.choices[i].message.content, `choice ${i}`);
      assert.equal(finishes[i], r.choices[i].finish_reason);
    }
    const c = await client.completions.create({ model, prompt: 'One two', max_tokens: 3, n: 2, seed: 9 });
    assert.deepEqual(c.choices.map((x) => x.index), [0, 1]);
  });

  await check("llama.cpp's sampling parameters through the client", async () => {
    const r = await client.chat.completions.create({
      model, messages: user('Sample.'), max_tokens: 4, temperature: 0.9, seed: 3,
      top_k: 20, min_p: 0.05, typical_p: 0.95, repeat_penalty: 1.1, repeat_last_n: 32, dry_multiplier: 0.8, dry_base: 1.75,
      dry_allowed_length: 2, dry_penalty_last_n: -1, dry_sequence_breakers: ['\n'], xtc_probability: 0.3, xtc_threshold: 0.1,
    });
    assert.ok(r.usage.completion_tokens >= 1);
    const m = await client.chat.completions.create({ model, messages: user('Mirostat.'), max_tokens: 3, mirostat: 2, mirostat_tau: 5, mirostat_eta: 0.1 });
    assert.ok(m.usage.completion_tokens >= 1);
    await assert.rejects(client.chat.completions.create({ model, messages: user('x'), xtc_probability: 2 }), (e) => e.status === 400 && e.param === 'xtc_probability');
    await assert.rejects(client.chat.completions.create({ model, messages: user('x'), samplers: ['top_k'] }), (e) => e.status === 400 && e.param === 'samplers');
  });

  await check('reasoning_effort switches thinking', async () => {
    const off = await client.chat.completions.create({ ...greedy, messages: user('Hm.'), max_tokens: 1, reasoning_effort: 'minimal' });
    const on = await client.chat.completions.create({ ...greedy, messages: user('Hm.'), max_tokens: 1, reasoning_effort: 'high' });
    assert.ok(on.usage.prompt_tokens > off.usage.prompt_tokens, 'thinking on changes the prompt');
  });

  await check('/tokenize, /detokenize, /props', async () => {
    const t = await raw('POST', '/tokenize', { content: 'Hello world', with_pieces: true });
    assert.equal(t.status, 200);
    assert.equal(t.json.tokens.map((p) => p.piece).join(''), 'Hello world');
    const d = await raw('POST', '/detokenize', { tokens: t.json.tokens.map((p) => p.id) });
    assert.equal(d.json.content, 'Hello world');
    const p = await raw('GET', '/props');
    assert.equal(p.status, 200);
    assert.equal(typeof p.json.chat_template, 'string');
    assert.ok(p.json.total_slots >= 1);
    assert.equal(typeof p.json.default_generation_settings.n_ctx, 'number');
  });

  await check('a nested-JSON bomb is a 400 and the server keeps serving', async () => {
    const bomb = `{"model":"${model}","messages":[{"role":"user","content":${'['.repeat(100000)}${']'.repeat(100000)}}]}`;
    const r = await raw('POST', '/v1/chat/completions', bomb);
    assertError(r, 400);
    assert.equal(r.json.error.code, 'json_too_complex');
    const ok = await client.chat.completions.create({ ...greedy, messages: user('Say hello.'), max_tokens: 8 });
    assert.equal(ok.choices[0].message.content, plain.choices[0].message.content);
  });

  await check('abort mid-stream cancels the sequence; the next request works', async () => {
    const before = await metricValue('g4_sequences_total{result="cancelled"}');
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { ...greedy, messages: user('Write a very long story.'), max_tokens: 100000, stream: true },
      { signal: controller.signal });
    let got = 0;
    try {
      for await (const chunk of stream) {
        if (chunk.choices.length && ++got === 3) controller.abort();
      }
    } catch (e) {
      // Depending on the client version, an aborted stream ends or throws an abort error.
      assert.ok(controller.signal.aborted, `unexpected error: ${e}`);
    }
    assert.equal(got, 3);
    const r = await client.chat.completions.create({ ...greedy, messages: user('Say hello.'), max_tokens: 8 });
    assert.equal(r.choices[0].message.content, plain.choices[0].message.content);
    // The engine notices the disconnect on its own; wait for it (bounded).
    let after = before;
    for (let i = 0; i < 200 && after <= before; i++) {
      await new Promise((res) => setTimeout(res, 50));
      after = await metricValue('g4_sequences_total{result="cancelled"}');
    }
    assert.ok(after > before, 'the aborted stream was cancelled');
    assert.equal(await metricValue('g4_running_sequences'), 0);
  });

  await check('/metrics', async () => {
    const r = await fetch(`${base}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^text\/plain/);
    const text = await r.text();
    for (const name of ['g4_requests_total', 'g4_prompt_tokens_total', 'g4_generation_tokens_total', 'g4_queue_depth',
      'g4_generation_tokens_per_second', 'g4_kv_cache_usage_ratio', 'g4_kv_cache_tokens', 'g4_prompt_tokens_cached_total']) {
      assert.ok(text.includes(`# TYPE ${name} `), `missing ${name}`);
    }
    assert.ok((await metricValue('g4_generation_tokens_total')) > 100);
    assert.ok((await metricValue('g4_prompt_tokens_cached_total')) > 0);
    assert.match(text, /g4_requests_total\{path="\/v1\/chat\/completions",status="200"\} [1-9]/);
    assert.match(text, /g4_requests_total\{path="\/v1\/chat\/completions",status="400"\} [1-9]/);
    assert.match(text, /g4_requests_total\{path="other",status="404"\} [1-9]/);
  });

  const failed = results.filter(([ok]) => !ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL - unexpected: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
