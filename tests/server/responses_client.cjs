// Drives /v1/responses of a running `gemma4 serve` with the official `openai` npm package.
// Usage: node responses_client.cjs BASE_URL API_KEY MODEL_ID   (BASE_URL on 127.0.0.1)
// The model has random weights: checks rely on greedy decoding, small token budgets and constrained
// decoding (forced tool calls, JSON schemas), never on what the model "chooses"; the expected answers
// come from the chat-completions endpoint, which the Responses API is mapped onto. Prints one line per
// check and "N passed, M failed"; exits 1 on any failure.
'use strict';
const assert = require('node:assert/strict');
const OpenAI = require('openai');

const [base, apiKey, model] = process.argv.slice(2);
assert.match(base, /^http:\/\/127\.0\.0\.1:\d+$/, 'the server must be on 127.0.0.1');
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0, timeout: 60000 });

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

const greedy = { model, temperature: 0 };
const weather = {
  type: 'function',
  name: 'get_weather',
  description: 'Current weather for a city.',
  parameters: { type: 'object', properties: { city: { type: 'string', maxLength: 12 } }, required: ['city'], additionalProperties: false },
  strict: true,
};

const messageText = (r) =>
  r.output.filter((o) => o.type === 'message').flatMap((o) => o.content).filter((c) => c.type === 'output_text').map((c) => c.text).join('');
const reasoningText = (r) =>
  r.output.filter((o) => o.type === 'reasoning').flatMap((o) => o.content || []).map((c) => c.text).join('');

// All events of a streamed response, checked for the things every Responses stream must hold.
async function collect(params) {
  const stream = await client.responses.create({ ...params, stream: true });
  const events = [];
  for await (const e of stream) events.push(e);
  assert.ok(events.length >= 3, `too few events: ${events.length}`);
  events.forEach((e, i) => assert.equal(e.sequence_number, i, `sequence_number of event ${i} (${e.type})`));
  assert.equal(events[0].type, 'response.created');
  assert.equal(events[0].response.status, 'in_progress');
  assert.deepEqual(events[0].response.output, []);
  assert.equal(events[1].type, 'response.in_progress');
  const last = events[events.length - 1];
  assert.ok(['response.completed', 'response.incomplete'].includes(last.type), `last event ${last.type}`);
  // Items: added, then their events, then done, one at a time, output_index counting up.
  let open = null;
  let next = 0;
  for (const e of events.slice(2, -1)) {
    if (e.type === 'response.output_item.added') {
      assert.equal(open, null, 'an item was added while another was open');
      assert.equal(e.output_index, next);
      assert.equal(e.item.status, 'in_progress');
      open = e.item;
    } else if (e.type === 'response.output_item.done') {
      assert.ok(open && e.item.id === open.id, 'done for an item that is not open');
      assert.equal(e.output_index, next++);
      open = null;
    } else {
      assert.ok(open, `${e.type} outside an item`);
      assert.equal(e.output_index, next);
      assert.equal(e.item_id, open.id);
    }
  }
  assert.equal(open, null, 'an item was never closed');
  assert.equal(last.response.output.length, next);
  return { events, response: last.response, types: events.map((e) => e.type) };
}

async function expect400(params, param, what) {
  try {
    await client.responses.create(params);
  } catch (e) {
    assert.ok(e instanceof OpenAI.BadRequestError, `expected a 400, got ${e && e.status}: ${e && e.message}`);
    assert.equal(e.status, 400);
    assert.equal(e.error.type, 'invalid_request_error');
    if (param !== undefined) assert.equal(e.error.param, param, `param of: ${e.message}`);
    if (what) assert.match(e.message, what);
    return e;
  }
  assert.fail(`accepted: ${JSON.stringify(params)}`);
}

(async () => {
  let plain;
  await check('text input: a response object whose text equals the chat completion of the same prompt', async () => {
    const r = await client.responses.create({ ...greedy, input: 'Say hello.', max_output_tokens: 8 });
    assert.equal(r.object, 'response');
    assert.match(r.id, /^resp_/);
    assert.equal(r.model, model);
    assert.ok(['completed', 'incomplete'].includes(r.status));
    assert.equal(r.error, null);
    assert.equal(r.output.length, 1);
    assert.equal(r.output[0].type, 'message');
    assert.equal(r.output[0].role, 'assistant');
    assert.equal(r.output[0].content[0].type, 'output_text');
    assert.equal(r.output_text, messageText(r));
    assert.ok(r.usage.input_tokens > 5);
    assert.ok(r.usage.output_tokens >= 1 && r.usage.output_tokens <= 8);
    assert.equal(r.usage.total_tokens, r.usage.input_tokens + r.usage.output_tokens);
    assert.equal(r.usage.output_tokens_details.reasoning_tokens, 0);
    if (r.status === 'incomplete') assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
    const chat = await client.chat.completions.create({ ...greedy, messages: [{ role: 'user', content: 'Say hello.' }], max_tokens: 8 });
    assert.equal(r.output_text, chat.choices[0].message.content);
    assert.equal(r.usage.input_tokens, chat.usage.prompt_tokens);
    assert.equal(r.usage.output_tokens, chat.usage.completion_tokens);
    assert.equal(r.status === 'incomplete', chat.choices[0].finish_reason === 'length');
    plain = r;
  });

  await check('instructions and message items render like system and user messages; repeated prompts hit the cache', async () => {
    const r = await client.responses.create({
      ...greedy,
      instructions: 'Be terse.',
      input: [{ role: 'user', content: [{ type: 'input_text', text: 'Say hello.' }] }],
      max_output_tokens: 6,
    });
    const chat = await client.chat.completions.create({
      ...greedy,
      messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Say hello.' }],
      max_tokens: 6,
    });
    assert.equal(r.output_text, chat.choices[0].message.content);
    assert.equal(r.instructions, 'Be terse.');
    const again = await client.responses.create({ ...greedy, input: 'Say hello.', max_output_tokens: 8 });
    assert.equal(again.output_text, plain.output_text);
    assert.ok(again.usage.input_tokens_details.cached_tokens > 0, 'the repeated prompt should reuse the cached prefix');
  });

  await check('streaming: events in order, numbered, text equal to the whole answer', async () => {
    const s = await collect({ ...greedy, input: 'Say hello.', max_output_tokens: 8 });
    const deltas = s.events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join('');
    assert.equal(deltas, plain.output_text);
    const want = ['response.output_item.added', 'response.content_part.added', 'response.output_text.delta',
                  'response.output_text.done', 'response.content_part.done', 'response.output_item.done'];
    const seen = s.types.filter((t) => want.includes(t));
    const firstOf = (t) => seen.indexOf(t);
    for (let i = 1; i < want.length; i++) assert.ok(firstOf(want[i - 1]) < firstOf(want[i]), `${want[i - 1]} before ${want[i]}`);
    const done = s.events.find((e) => e.type === 'response.output_text.done');
    assert.equal(done.text, plain.output_text);
    assert.equal(s.response.status, plain.status);
    assert.equal(s.response.output[0].content[0].text, plain.output_text);
    assert.equal(s.response.usage.output_tokens, plain.usage.output_tokens);
    // The SDK's own accumulator agrees.
    const final = await client.responses.stream({ ...greedy, input: 'Say hello.', max_output_tokens: 8 }).finalResponse();
    assert.equal(messageText(final), plain.output_text);
  });

  let call;
  await check('forced function call: a function_call item whose arguments follow the schema', async () => {
    const r = await client.responses.create({
      ...greedy,
      input: 'What is the weather in Paris?',
      tools: [weather],
      tool_choice: { type: 'function', name: 'get_weather' },
      max_output_tokens: 40,
    });
    assert.equal(r.status, 'completed');
    const calls = r.output.filter((o) => o.type === 'function_call');
    assert.equal(calls.length, 1);
    assert.equal(calls[0].name, 'get_weather');
    assert.match(calls[0].call_id, /^call_/);
    assert.match(calls[0].id, /^fc_/);
    const args = JSON.parse(calls[0].arguments);
    assert.deepEqual(Object.keys(args), ['city']);
    assert.equal(typeof args.city, 'string');
    assert.ok(args.city.length <= 12);
    assert.equal(r.tools.length, 1);
    assert.equal(r.tools[0].name, 'get_weather');
    assert.deepEqual(r.tool_choice, { type: 'function', name: 'get_weather' });
    call = { r, item: calls[0] };
  });

  await check('tool round trip: the call and its output go back as input items', async () => {
    const input = [{ role: 'user', content: 'What is the weather in Paris?' }, ...call.r.output,
                   { type: 'function_call_output', call_id: call.item.call_id, output: '{"temperature_c": 21}' }];
    const r = await client.responses.create({ ...greedy, input, tools: [weather], max_output_tokens: 6 });
    assert.ok(['completed', 'incomplete'].includes(r.status));
    assert.ok(r.usage.input_tokens > call.r.usage.input_tokens + 5, 'the call and its output are part of the prompt');
    // The same conversation through chat completions gives the same answer.
    const chat = await client.chat.completions.create({
      ...greedy,
      messages: [
        { role: 'user', content: 'What is the weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: call.item.call_id, type: 'function', function: { name: 'get_weather', arguments: call.item.arguments } }] },
        { role: 'tool', tool_call_id: call.item.call_id, content: '{"temperature_c": 21}' },
      ],
      tools: [{ type: 'function', function: { name: weather.name, description: weather.description, parameters: weather.parameters } }],
      max_tokens: 6,
    });
    assert.equal(r.usage.input_tokens, chat.usage.prompt_tokens);
    assert.equal(r.output_text, chat.choices[0].message.content || '');
  });

  await check('streamed function call: added, arguments delta and done, item done', async () => {
    const s = await collect({ ...greedy, input: 'What is the weather in Paris?', tools: [weather], tool_choice: 'required', max_output_tokens: 40 });
    const added = s.events.find((e) => e.type === 'response.output_item.added' && e.item.type === 'function_call');
    assert.ok(added, 'no function_call item');
    assert.equal(added.item.arguments, '');
    const deltas = s.events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => e.delta).join('');
    const done = s.events.find((e) => e.type === 'response.function_call_arguments.done');
    assert.equal(done.arguments, deltas);
    assert.equal(done.name, 'get_weather');
    const item = s.response.output.find((o) => o.type === 'function_call');
    assert.equal(item.arguments, deltas);
    assert.equal(typeof JSON.parse(deltas).city, 'string');
  });

  let thought;
  await check('reasoning effort high: the answer starts with a reasoning item, counted in reasoning_tokens; none: no reasoning', async () => {
    const r = await client.responses.create({ ...greedy, input: 'Why is the sky blue?', reasoning: { effort: 'high' }, max_output_tokens: 6 });
    assert.equal(r.output[0].type, 'reasoning');
    assert.match(r.output[0].id, /^rs_/);
    assert.deepEqual(r.output[0].summary, []);
    assert.equal(r.output[0].content[0].type, 'reasoning_text');
    assert.ok(reasoningText(r).length > 0);
    assert.ok(r.usage.output_tokens_details.reasoning_tokens > 0);
    assert.ok(r.usage.output_tokens_details.reasoning_tokens <= r.usage.output_tokens);
    assert.equal(r.reasoning.effort, 'high');
    const off = await client.responses.create({ ...greedy, input: 'Why is the sky blue?', reasoning: { effort: 'none' }, max_output_tokens: 6 });
    assert.ok(off.output.every((o) => o.type !== 'reasoning'));
    assert.ok(r.usage.input_tokens > off.usage.input_tokens, 'thinking on changes the prompt');
    thought = r;
  });

  await check('streamed reasoning: reasoning_text deltas equal the whole reasoning', async () => {
    const s = await collect({ ...greedy, input: 'Why is the sky blue?', reasoning: { effort: 'high' }, max_output_tokens: 6 });
    const deltas = s.events.filter((e) => e.type === 'response.reasoning_text.delta').map((e) => e.delta).join('');
    assert.equal(deltas, reasoningText(thought));
    const part = s.events.find((e) => e.type === 'response.content_part.added');
    assert.equal(part.part.type, 'reasoning_text');
    assert.equal(s.events.find((e) => e.type === 'response.reasoning_text.done').text, deltas);
  });

  await check('reasoning items passed back are accepted as the reasoning of the turn after them', async () => {
    const input = [{ role: 'user', content: 'Why is the sky blue?' }, ...thought.output,
                   { role: 'assistant', content: [{ type: 'output_text', text: 'Rayleigh scattering.', annotations: [] }] },
                   { role: 'user', content: 'Thanks.' }];
    const r = await client.responses.create({ ...greedy, input, max_output_tokens: 2 });
    assert.ok(['completed', 'incomplete'].includes(r.status));
    await expect400({ ...greedy, input: [...input.slice(0, 2)], max_output_tokens: 2 }, 'input[1]', /followed by the assistant message/);
  });

  await check('text.format json_schema constrains the answer', async () => {
    const r = await client.responses.create({
      ...greedy,
      input: 'Is water wet?',
      text: { format: { type: 'json_schema', name: 'verdict', schema: { type: 'object', properties: { wet: { type: 'boolean' } }, required: ['wet'], additionalProperties: false }, strict: true } },
      max_output_tokens: 30,
    });
    assert.equal(r.status, 'completed');
    const v = JSON.parse(r.output_text);
    assert.deepEqual(Object.keys(v), ['wet']);
    assert.equal(typeof v.wet, 'boolean');
    assert.equal(r.text.format.type, 'json_schema');
    const o = await client.responses.create({ ...greedy, input: 'Give me an object.', text: { format: { type: 'json_object' } }, max_output_tokens: 40 });
    if (o.status === 'completed') assert.equal(typeof JSON.parse(o.output_text), 'object');
  });

  await check('max_output_tokens reached: status incomplete with the reason', async () => {
    // 5 tokens: the thought's 3 forced opening tokens and 2 of the thought itself (greedy, this model).
    const r = await client.responses.create({ ...greedy, input: 'Why is the sky blue?', reasoning: { effort: 'high' }, max_output_tokens: 5 });
    assert.equal(r.status, 'incomplete');
    assert.deepEqual(r.incomplete_details, { reason: 'max_output_tokens' });
    assert.equal(r.output.length, 1);
    assert.equal(r.output[0].type, 'reasoning');
    assert.equal(r.output[0].status, 'incomplete');
    assert.equal(r.usage.output_tokens, 5);
  });

  await check('unsupported fields and values are refused naming them', async () => {
    await expect400({ ...greedy, input: 'Hi', previous_response_id: 'resp_123' }, 'previous_response_id', /stores no responses/);
    await expect400({ ...greedy, input: 'Hi', conversation: 'conv_1' }, 'conversation');
    await expect400({ ...greedy, input: 'Hi', store: true }, 'store');
    await expect400({ ...greedy, input: 'Hi', background: true }, 'background');
    await expect400({ ...greedy, input: 'Hi', truncation: 'auto' }, 'truncation');
    await expect400({ ...greedy, input: 'Hi', include: ['reasoning.encrypted_content'] }, 'include[0]');
    await expect400({ ...greedy, input: 'Hi', top_logprobs: 2 }, 'top_logprobs');
    await expect400({ ...greedy, input: 'Hi', frobnicate: 1 }, 'frobnicate', /Unrecognized/);
    await expect400({ ...greedy, input: 'Hi', tools: [{ type: 'web_search' }] }, 'tools[0].type', /built-in/);
    await expect400({ ...greedy, input: 'Hi', tools: [{ ...weather, parameters: 'nope' }] }, 'tools[0].parameters');
    await expect400({ ...greedy, input: 'Hi', tools: [weather], tool_choice: { type: 'function', name: 'nope' } }, 'tool_choice');
    await expect400({ ...greedy, input: 'Hi', tool_choice: { type: 'allowed_tools', mode: 'auto', tools: [] } }, 'tool_choice.type');
    await expect400({ ...greedy, input: 'Hi', max_output_tokens: -1 }, 'max_output_tokens');
    await expect400({ ...greedy, input: 'Hi', temperature: 3 }, 'temperature');
    await expect400({ ...greedy, input: 'Hi', reasoning: { effort: 'extreme' } }, 'reasoning.effort');
    await expect400({ ...greedy, input: 'Hi', reasoning: { summary: 'detailed' } }, 'reasoning.summary');
    await expect400({ ...greedy, input: 'Hi', text: { format: { type: 'json_schema', name: 'x', schema: { type: 'string', pattern: '(?<=a)b' } } } }, 'text.format.schema');
    await expect400({ ...greedy, input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'http://127.0.0.1/x.png' }] }] }, 'input[0].content[0]');
    await expect400({ ...greedy, input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0]');
    await expect400({ ...greedy, input: [{ type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'xyz' }] }, 'input[0].encrypted_content');
    await expect400({ ...greedy, input: [{ role: 'wizard', content: 'Hi' }] }, 'input[0].role');
    await expect400({ ...greedy }, 'input');
  });

  const passed = results.filter((x) => x).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
  process.exit(passed === results.length ? 0 : 1);
})().catch((e) => {
  console.log(`FAIL - unexpected: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
