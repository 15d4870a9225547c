// Drives /v1/messages of a running `gemma4 serve` with the official `@anthropic-ai/sdk` npm package.
// Usage: node anthropic_client.cjs BASE_URL API_KEY MODEL_ID   (BASE_URL on 127.0.0.1)
// The model has random weights: checks rely on greedy decoding, small token budgets and constrained
// decoding (forced tool calls), never on what the model "chooses"; expected answers come from the
// chat-completions endpoint (fetch), which the Messages API is mapped onto. Prints one line per check
// and "N passed, M failed"; exits 1 on any failure.
'use strict';
const assert = require('node:assert/strict');
const Anthropic = require('@anthropic-ai/sdk');

const [base, apiKey, model] = process.argv.slice(2);
assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, 'the server must be on 127.0.0.1');
const client = new Anthropic({ baseURL: base, apiKey, maxRetries: 0, timeout: 60000 });

const results = [];
async function check(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    results.push(true);
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push(false);
    console.log(`FAIL - ${name}: ${e && e.stack ? e.stack : e}`);
  }
}

async function chat(body) {
  const r = await fetch(`${base}/v1/chat/completions`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ model, temperature: 0, ...body }),
  });
  assert.equal(r.status, 200);
  return r.json();
}

const greedy = { model, temperature: 0 };
const user = (text) => [{ role: 'user', content: text }];
const textOf = (m) => m.content.filter((b) => b.type === 'text').map((b) => b.text).join('');
const thinkingOf = (m) => m.content.filter((b) => b.type === 'thinking').map((b) => b.thinking).join('');
const weather = {
  name: 'get_weather',
  description: 'Current weather for a city.',
  input_schema: { type: 'object', properties: { city: { type: 'string', maxLength: 12 } }, required: ['city'], additionalProperties: false },
};

// Raw events of a streamed message, checked for the order every Messages stream must keep.
async function events(params) {
  const stream = await client.messages.create({ ...params, stream: true });
  const out = [];
  for await (const e of stream) out.push(e);
  assert.equal(out[0].type, 'message_start');
  assert.equal(out[0].message.role, 'assistant');
  assert.deepEqual(out[0].message.content, []);
  assert.equal(out[out.length - 1].type, 'message_stop');
  assert.equal(out[out.length - 2].type, 'message_delta');
  let open = -1;
  let next = 0;
  for (const e of out.slice(1, -2)) {
    if (e.type === 'content_block_start') {
      assert.equal(open, -1, 'a block started while another was open');
      assert.equal(e.index, next);
      open = e.index;
    } else if (e.type === 'content_block_stop') {
      assert.equal(e.index, open);
      open = -1;
      next++;
    } else {
      assert.equal(e.type, 'content_block_delta');
      assert.equal(e.index, open);
    }
  }
  assert.equal(open, -1, 'a block was never stopped');
  return out;
}

async function expectError(params, status, type, what, call = (p) => client.messages.create(p)) {
  try {
    await call(params);
  } catch (e) {
    assert.ok(e instanceof Anthropic.APIError, `not an API error: ${e}`);
    assert.equal(e.status, status, `status of: ${e.message}`);
    assert.equal(e.error.type, 'error', JSON.stringify(e.error));
    assert.equal(e.error.error.type, type);
    if (what) assert.match(e.error.error.message, what);
    return e;
  }
  assert.fail(`accepted: ${JSON.stringify(params)}`);
}

(async () => {
  let plain;
  await check('text: a message whose text equals the chat completion of the same prompt', async () => {
    const m = await client.messages.create({ ...greedy, max_tokens: 8, messages: user('Say hello.') });
    assert.equal(m.type, 'message');
    assert.match(m.id, /^msg_/);
    assert.equal(m.role, 'assistant');
    assert.equal(m.model, model);
    assert.equal(m.content.length, 1);
    assert.equal(m.content[0].type, 'text');
    assert.ok(['end_turn', 'max_tokens'].includes(m.stop_reason));
    assert.equal(m.stop_sequence, null);
    assert.ok(m.usage.output_tokens >= 1 && m.usage.output_tokens <= 8);
    const c = await chat({ messages: user('Say hello.'), max_tokens: 8 });
    assert.equal(textOf(m), c.choices[0].message.content);
    assert.equal(m.usage.input_tokens + m.usage.cache_read_input_tokens, c.usage.prompt_tokens);
    assert.equal(m.usage.output_tokens, c.usage.completion_tokens);
    assert.equal(m.stop_reason === 'max_tokens', c.choices[0].finish_reason === 'length');
    plain = m;
  });

  await check('system as a string and as text blocks; repeated prompts read the cache', async () => {
    const a = await client.messages.create({ ...greedy, max_tokens: 6, system: 'Be terse.', messages: user('Say hello.') });
    const b = await client.messages.create({ ...greedy, max_tokens: 6, system: [{ type: 'text', text: 'Be terse.', cache_control: { type: 'ephemeral' } }], messages: user('Say hello.') });
    assert.equal(textOf(a), textOf(b));
    const c = await chat({ messages: [{ role: 'system', content: 'Be terse.' }, ...user('Say hello.')], max_tokens: 6 });
    assert.equal(textOf(a), c.choices[0].message.content);
    assert.ok(b.usage.cache_read_input_tokens > 0, 'the repeated prompt should reuse the cached prefix');
    assert.equal(b.usage.cache_creation_input_tokens, 0);
  });

  await check('streaming: events in order, text equal to the whole answer', async () => {
    const ev = await events({ ...greedy, max_tokens: 8, messages: user('Say hello.') });
    const text = ev.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join('');
    assert.equal(text, textOf(plain));
    assert.ok(ev.filter((e) => e.type === 'content_block_delta').every((e) => e.delta.type === 'text_delta'));
    const delta = ev[ev.length - 2];
    assert.equal(delta.delta.stop_reason, plain.stop_reason);
    assert.equal(delta.usage.output_tokens, plain.usage.output_tokens);
    // The SDK's own accumulator agrees.
    const final = await client.messages.stream({ ...greedy, max_tokens: 8, messages: user('Say hello.') }).finalMessage();
    assert.equal(textOf(final), textOf(plain));
    assert.equal(final.stop_reason, plain.stop_reason);
  });

  let call;
  await check('forced tool use: a tool_use block whose input follows the schema; stop_reason tool_use', async () => {
    const m = await client.messages.create({
      ...greedy,
      max_tokens: 40,
      messages: user('What is the weather in Paris?'),
      tools: [weather],
      tool_choice: { type: 'tool', name: 'get_weather' },
    });
    assert.equal(m.stop_reason, 'tool_use');
    const uses = m.content.filter((b) => b.type === 'tool_use');
    assert.equal(uses.length, 1);
    assert.equal(uses[0].name, 'get_weather');
    assert.match(uses[0].id, /^toolu_/);
    assert.deepEqual(Object.keys(uses[0].input), ['city']);
    assert.equal(typeof uses[0].input.city, 'string');
    call = { m, use: uses[0] };
    const any = await client.messages.create({ ...greedy, max_tokens: 40, messages: user('Weather?'), tools: [weather], tool_choice: { type: 'any' } });
    assert.equal(any.stop_reason, 'tool_use');
  });

  await check('tool round trip: tool_use and tool_result go back; same prompt as chat completions', async () => {
    const messages = [
      ...user('What is the weather in Paris?'),
      { role: 'assistant', content: call.m.content },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.use.id, content: '21 C and sunny' }] },
    ];
    const m = await client.messages.create({ ...greedy, max_tokens: 6, messages, tools: [weather] });
    assert.ok(['end_turn', 'max_tokens', 'tool_use'].includes(m.stop_reason));
    const c = await chat({
      messages: [
        ...user('What is the weather in Paris?'),
        { role: 'assistant', content: null, tool_calls: [{ id: call.use.id, type: 'function', function: { name: 'get_weather', arguments: JSON.stringify(call.use.input) } }] },
        { role: 'tool', tool_call_id: call.use.id, content: '21 C and sunny' },
      ],
      tools: [{ type: 'function', function: { name: weather.name, description: weather.description, parameters: weather.input_schema } }],
      max_tokens: 6,
    });
    assert.equal(m.usage.input_tokens + m.usage.cache_read_input_tokens, c.usage.prompt_tokens);
    assert.equal(textOf(m), c.choices[0].message.content || '');
    const err = await client.messages.create({ ...greedy, max_tokens: 2, tools: [weather], messages: [...messages.slice(0, 2),
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.use.id, content: [{ type: 'text', text: 'timeout' }], is_error: true }] }] });
    assert.ok(err.usage.input_tokens + err.usage.cache_read_input_tokens > 0);
  });

  await check('streamed tool use: input_json_delta parts make the input', async () => {
    const ev = await events({ ...greedy, max_tokens: 40, messages: user('What is the weather in Paris?'), tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' } });
    const start = ev.find((e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use');
    assert.ok(start, 'no tool_use block');
    assert.equal(start.content_block.name, 'get_weather');
    assert.deepEqual(start.content_block.input, {});
    const json = ev.filter((e) => e.type === 'content_block_delta' && e.index === start.index).map((e) => e.delta.partial_json).join('');
    assert.deepEqual(JSON.parse(json), call.use.input);
    assert.equal(ev[ev.length - 2].delta.stop_reason, 'tool_use');
    const final = await client.messages.stream({ ...greedy, max_tokens: 40, messages: user('What is the weather in Paris?'), tools: [weather], tool_choice: { type: 'tool', name: 'get_weather' } }).finalMessage();
    assert.deepEqual(final.content.find((b) => b.type === 'tool_use').input, call.use.input);
  });

  let thought;
  await check('thinking enabled: the answer starts with a thinking block with a signature; disabled: none', async () => {
    const m = await client.messages.create({ ...greedy, max_tokens: 8, thinking: { type: 'enabled', budget_tokens: 7 }, messages: user('Why is the sky blue?') });
    assert.equal(m.content[0].type, 'thinking');
    assert.ok(m.content[0].thinking.length > 0);
    assert.ok(typeof m.content[0].signature === 'string' && m.content[0].signature.length > 0);
    const off = await client.messages.create({ ...greedy, max_tokens: 8, messages: user('Why is the sky blue?') });
    assert.ok(off.content.every((b) => b.type !== 'thinking'));
    thought = m;
  });

  await check('budget_tokens closes the thought: a smaller budget thinks a prefix of a larger one, then answers', async () => {
    const big = await client.messages.create({ ...greedy, max_tokens: 20, thinking: { type: 'enabled', budget_tokens: 19 }, messages: user('Why is the sky blue?') });
    const small = await client.messages.create({ ...greedy, max_tokens: 20, thinking: { type: 'enabled', budget_tokens: 2 }, messages: user('Why is the sky blue?') });
    assert.equal(small.content[0].type, 'thinking');
    assert.ok(thinkingOf(big).startsWith(thinkingOf(small)), `${JSON.stringify(thinkingOf(small))} is not a prefix of ${JSON.stringify(thinkingOf(big))}`);
    assert.ok(thinkingOf(small).length < thinkingOf(big).length, 'the budget did not shorten the thought');
    // After the forced close the answer goes on outside the thought (unless the model ends right there).
    if (small.stop_reason === 'max_tokens') assert.ok(small.content.some((b) => b.type === 'text'), JSON.stringify(small.content));
  });

  await check('streamed thinking: thinking_delta parts, then a signature_delta before the block stops', async () => {
    const ev = await events({ ...greedy, max_tokens: 8, thinking: { type: 'enabled', budget_tokens: 7 }, messages: user('Why is the sky blue?') });
    const start = ev.find((e) => e.type === 'content_block_start');
    assert.deepEqual(start.content_block, { type: 'thinking', thinking: '', signature: '' });
    const deltas = ev.filter((e) => e.type === 'content_block_delta' && e.index === 0);
    assert.equal(deltas.filter((e) => e.delta.type === 'thinking_delta').map((e) => e.delta.thinking).join(''), thought.content[0].thinking);
    assert.equal(deltas[deltas.length - 1].delta.type, 'signature_delta');
    assert.ok(deltas[deltas.length - 1].delta.signature.length > 0);
  });

  await check('thinking blocks passed back are accepted', async () => {
    const m = await client.messages.create({
      ...greedy,
      max_tokens: 2,
      thinking: { type: 'enabled', budget_tokens: 1 },
      messages: [...user('Why is the sky blue?'), { role: 'assistant', content: [...thought.content.filter((b) => b.type === 'thinking'), { type: 'text', text: 'Scattering.' }] }, ...user('Thanks.')],
    });
    assert.ok(m.usage.input_tokens + m.usage.cache_read_input_tokens > 10);
  });

  await check('stop_sequences: stop_reason stop_sequence names the one that matched; the text ends before it', async () => {
    const m = await client.messages.create({ ...greedy, max_tokens: 16, messages: user('Tell me a story.') });
    const text = textOf(m);
    assert.ok(text.length >= 6, `answer too short to cut: ${JSON.stringify(text)}`);
    const stop = text.slice(3, 6);
    const cut = await client.messages.create({ ...greedy, max_tokens: 16, messages: user('Tell me a story.'), stop_sequences: ['NEVER-SEEN', stop] });
    assert.equal(cut.stop_reason, 'stop_sequence');
    assert.equal(cut.stop_sequence, stop);
    assert.equal(textOf(cut), text.slice(0, text.indexOf(stop)));
    const unmatched = await client.messages.create({ ...greedy, max_tokens: 16, messages: user('Tell me a story.'), stop_sequences: ['NEVER-SEEN'] });
    assert.equal(unmatched.stop_reason, m.stop_reason);
    assert.equal(unmatched.stop_sequence, null);
    assert.equal(textOf(unmatched), text);
  });

  await check('max_tokens reached: stop_reason max_tokens', async () => {
    const m = await client.messages.create({ ...greedy, max_tokens: 1, thinking: { type: 'adaptive' }, messages: user('Why is the sky blue?') });
    assert.equal(m.stop_reason, 'max_tokens');
    assert.equal(m.usage.output_tokens, 1);
  });

  await check('count_tokens: the prompt length that a message request uses', async () => {
    const n = await client.messages.countTokens({ model, messages: user('Say hello.') });
    assert.equal(n.input_tokens, plain.usage.input_tokens + plain.usage.cache_read_input_tokens);
    const t = await client.messages.countTokens({ model, messages: user('Say hello.'), tools: [weather] });
    assert.ok(t.input_tokens > n.input_tokens, 'tools are part of the prompt');
  });

  await check('errors have Anthropic\'s shape and name the field', async () => {
    await expectError({ model, messages: user('Hi') }, 400, 'invalid_request_error', /max_tokens/);
    await expectError({ model, max_tokens: 4, messages: user('Hi'), frobnicate: true }, 400, 'invalid_request_error', /frobnicate/);
    await expectError({ model, max_tokens: 4, messages: user('Hi'), temperature: 1.5 }, 400, 'invalid_request_error', /temperature/);
    await expectError({ model, max_tokens: 4, messages: user('Hi'), top_p: 2 }, 400, 'invalid_request_error', /top_p/);
    await expectError({ model, max_tokens: 4, messages: user('Hi'), stop_sequences: 'x' }, 400, 'invalid_request_error', /stop_sequences/);
    await expectError({ model, max_tokens: 4, messages: user('Hi'), tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, 400, 'invalid_request_error', /tools\[0\]\.type|server tools/);
    await expectError({ model, max_tokens: 4, messages: user('Hi'), tools: [{ name: 'bad name!', input_schema: { type: 'object' } }] }, 400, 'invalid_request_error', /tools\[0\]\.name/);
    await expectError({ model, max_tokens: 4, messages: user('Hi'), tools: [weather], tool_choice: { type: 'tool', name: 'nope' } }, 400, 'invalid_request_error', /tool_choice/);
    await expectError({ model, max_tokens: 4, messages: user('Hi'), tools: [weather], tool_choice: { type: 'any' }, thinking: { type: 'enabled', budget_tokens: 2 } }, 400, 'invalid_request_error', /thinking/);
    await expectError({ model, max_tokens: 4, messages: user('Hi'), thinking: { type: 'enabled', budget_tokens: 4 } }, 400, 'invalid_request_error', /less than 'max_tokens'/);
    await expectError({ model, max_tokens: 4, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }] }] }, 400, 'invalid_request_error', /image/);
    await expectError({ model, max_tokens: 4, messages: [...user('Hi'), { role: 'assistant', content: [{ type: 'redacted_thinking', data: 'x' }] }, ...user('Hi')] }, 400, 'invalid_request_error', /redacted_thinking/);
    await expectError({ model, max_tokens: 4, messages: [...user('Hi'), { role: 'assistant', content: 'The answer is' }] }, 400, 'invalid_request_error', /prefill/);
    await expectError({ model, max_tokens: 4, messages: [{ role: 'system', content: 'Hi' }] }, 400, 'invalid_request_error', /role/);
    await expectError({ model, max_tokens: 4, messages: user('Hi'), output_config: { effort: 'low' } }, 400, 'invalid_request_error', /output_config/);
    const bad = new Anthropic({ baseURL: base, apiKey: 'wrong-key', maxRetries: 0 });
    const e = await expectError({ model, max_tokens: 4, messages: user('Hi') }, 401, 'authentication_error', undefined, (p) => bad.messages.create(p));
    assert.ok(e instanceof Anthropic.AuthenticationError);
    await expectError({ model, messages: user('Hi'), max_tokens: 4 }, 400, 'invalid_request_error', /max_tokens/, (p) => client.messages.countTokens(p));
  });

  await check('Bearer authentication works as well as x-api-key', async () => {
    const bearer = new Anthropic({ baseURL: base, apiKey: null, authToken: apiKey, maxRetries: 0 });
    const m = await bearer.messages.create({ ...greedy, max_tokens: 2, messages: user('Hi') });
    assert.equal(m.type, 'message');
  });

  const passed = results.filter((x) => x).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  process.exit(passed === results.length ? 0 : 1);
})().catch((e) => {
  console.log(`FAIL - unexpected: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
