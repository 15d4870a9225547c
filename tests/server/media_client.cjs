// Drives a running `gemma4 serve` (a model with vision and audio towers) with the official `openai` and
// `@anthropic-ai/sdk` npm packages: chat completions' image_url parts as base64 data: URLs, several per
// message, input_audio parts, streaming, the prefix cache across repeated pictures, the errors a client
// gets for bad media; the Responses API's input_image / input_audio and the Messages API's image blocks.
// Usage: node media_client.cjs BASE_URL API_KEY MODEL_ID DIR N_A N_B N_AUDIO
//   DIR holds a.png, b.png, a2.png (a's size, other pixels), tone.wav and corrupt.png; N_A / N_B / N_AUDIO are
//   the soft tokens the processor gives a.png (and a2.png), b.png and tone.wav, computed by the caller.
// The model has random weights: checks rely on greedy decoding and on token counts, never on the words.
// Prints one line per check; exits 1 on any failure.
'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const OpenAI = require('openai');
const Anthropic = require('@anthropic-ai/sdk');

const [base, apiKey, model, dir, nA, nB, nAudio] = process.argv.slice(2);
const client = new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0, timeout: 120000 });
const anthropic = new Anthropic({ baseURL: base, apiKey, maxRetries: 0, timeout: 120000 });
const N_A = Number(nA), N_B = Number(nB), N_AUDIO = Number(nAudio);

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

const b64 = (file) => fs.readFileSync(path.join(dir, file)).toString('base64');
const image = (file) => ({ type: 'image_url', image_url: { url: `data:image/png;base64,${b64(file)}` } });
const audio = (file) => ({ type: 'input_audio', input_audio: { data: b64(file), format: 'wav' } });
const text = (t) => ({ type: 'text', text: t });
const greedy = { model, temperature: 0, max_tokens: 4 };
const ask = (content, extra = {}) => client.chat.completions.create({ ...greedy, messages: [{ role: 'user', content }], ...extra });

async function expect400(content, fragment) {
  try {
    await ask(content);
  } catch (e) {
    assert.ok(e instanceof OpenAI.BadRequestError, `expected a 400, got ${e && e.status}: ${e && e.message}`);
    assert.equal(e.status, 400);
    assert.ok(e.message.includes(fragment), `'${e.message}' does not mention '${fragment}'`);
    return;
  }
  assert.fail('the request was accepted');
}

(async () => {
  let textOnly, withA;
  await check('text only (the baseline prompt)', async () => {
    textOnly = await ask([text('What is in the picture?')]);
    assert.ok(textOnly.usage.prompt_tokens > 5);
  });

  await check('one image_url (data: URL) adds its soft tokens and the begin/end markers', async () => {
    withA = await ask([text('What is in the picture?'), image('a.png')]);
    assert.equal(withA.object, 'chat.completion');
    assert.equal(typeof withA.choices[0].message.content, 'string');
    assert.ok(withA.usage.completion_tokens >= 1 && withA.usage.completion_tokens <= 4);
    assert.equal(withA.usage.prompt_tokens - textOnly.usage.prompt_tokens, N_A + 2);
  });

  await check('two images in one message, each expanded in order', async () => {
    const r = await ask([text('What is in the picture?'), image('a.png'), image('b.png')]);
    assert.equal(r.usage.prompt_tokens - textOnly.usage.prompt_tokens, N_A + 2 + N_B + 2);
  });

  await check('the same picture again: same greedy answer, prefix cache reused past the image', async () => {
    const r = await ask([text('What is in the picture?'), image('a.png')]);
    assert.equal(r.choices[0].message.content, withA.choices[0].message.content);
    assert.ok(r.usage.prompt_tokens_details.cached_tokens > textOnly.usage.prompt_tokens,
      `cached ${r.usage.prompt_tokens_details.cached_tokens} tokens: the image's soft tokens were not reused`);
  });

  await check('another picture of the same size does not reuse the first one\'s cache', async () => {
    const r = await ask([text('What is in the picture?'), image('a2.png')]);
    assert.equal(r.usage.prompt_tokens, withA.usage.prompt_tokens);
    assert.ok(r.usage.prompt_tokens_details.cached_tokens < textOnly.usage.prompt_tokens,
      `cached ${r.usage.prompt_tokens_details.cached_tokens} tokens: the other picture's keys were reused`);
  });

  await check('the picture reaches the model: another picture changes the first token\'s log-probabilities', async () => {
    const lp = async (file) => {
      const r = await ask([text('What is in the picture?'), image(file)], { max_tokens: 1, logprobs: true, top_logprobs: 5 });
      return r.choices[0].logprobs.content[0].top_logprobs.map((t) => t.logprob);
    };
    const a = await lp('a.png'), a2 = await lp('a2.png'), again = await lp('a.png');
    // The same prompt may be computed by other kernels when the prefix cache serves it: close, not bit-equal.
    const maxDiff = (x, y) => Math.max(...x.map((v, i) => Math.abs(v - y[i])));
    assert.ok(maxDiff(again, a) < 1e-3, `the same picture gave another distribution: ${a} vs ${again}`);
    assert.ok(maxDiff(a2, a) > 1e-3, `two different pictures gave the same distribution (${a} vs ${a2}): were the soft tokens used?`);
  });

  await check('streamed answer with an image equals the plain one', async () => {
    const stream = await client.chat.completions.create({
      ...greedy, stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: [text('What is in the picture?'), image('a.png')] }],
    });
    let content = '', usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      for (const c of chunk.choices) if (c.delta.content) content += c.delta.content;
    }
    assert.equal(content, withA.choices[0].message.content);
    assert.equal(usage.prompt_tokens, withA.usage.prompt_tokens);
  });

  await check('input_audio (base64 wav) adds its soft tokens and markers', async () => {
    const r = await ask([text('What is in the picture?'), audio('tone.wav')]);
    assert.equal(r.usage.prompt_tokens - textOnly.usage.prompt_tokens, N_AUDIO + 2);
  });

  await check('image and audio together, across turns of a conversation', async () => {
    const r = await client.chat.completions.create({
      ...greedy,
      messages: [
        { role: 'user', content: [image('b.png'), text('Describe it.')] },
        { role: 'assistant', content: 'A pattern.' },
        { role: 'user', content: [audio('tone.wav'), text('And this sound?')] },
      ],
    });
    assert.ok(r.usage.prompt_tokens > N_B + N_AUDIO + 4);
  });

  await check('a corrupt picture is a 400 naming the part', async () => {
    await expect400([text('Look.'), image('corrupt.png')], 'messages[0].content[1]');
  });

  await check('a remote URL is refused with a 400 (nothing here fetches)', async () => {
    await expect400([text('Look.'), { type: 'image_url', image_url: { url: 'https://example.com/cat.png' } }], 'remote URLs are not fetched');
  });

  await check('an unknown image_url field is refused by name', async () => {
    await expect400([text('Look.'), { type: 'image_url', image_url: { url: `data:image/png;base64,${b64('a.png')}`, detail: 'high' } }],
      'detail');
  });

  await check('Responses API: input_image (data: URL) and input_audio add their soft tokens', async () => {
    const q = { type: 'input_text', text: 'What is in the picture?' };
    const base = await client.responses.create({ model, temperature: 0, max_output_tokens: 4, input: [{ role: 'user', content: [q] }] });
    const img = await client.responses.create({
      model, temperature: 0, max_output_tokens: 4,
      input: [{ role: 'user', content: [q, { type: 'input_image', image_url: `data:image/png;base64,${b64('a.png')}` }] }],
    });
    assert.equal(img.usage.input_tokens - base.usage.input_tokens, N_A + 2);
    const snd = await client.responses.create({
      model, temperature: 0, max_output_tokens: 4,
      input: [{ role: 'user', content: [q, { type: 'input_audio', input_audio: { data: b64('tone.wav'), format: 'wav' } }] }],
    });
    assert.equal(snd.usage.input_tokens - base.usage.input_tokens, N_AUDIO + 2);
    await assert.rejects(client.responses.create({
      model, max_output_tokens: 4, input: [{ role: 'user', content: [q, { type: 'input_image', file_id: 'file_1' }] }],
    }), (e) => e.status === 400 && e.message.includes('file_id'));
    // Media errors name the Responses field, not the chat message it was mapped onto.
    await assert.rejects(client.responses.create({
      model, max_output_tokens: 4, instructions: 'Be brief.',
      input: [{ role: 'user', content: [q, { type: 'input_image', image_url: `data:image/png;base64,${b64('corrupt.png')}` }] }],
    }), (e) => e.status === 400 && e.param === 'input[0].content[1]' && e.message.includes('input[0].content[1]'));
  });

  await check('Messages API (Anthropic): base64 image blocks add their soft tokens; url sources are refused', async () => {
    const q = { type: 'text', text: 'What is in the picture?' };
    const base = await anthropic.messages.create({ model, max_tokens: 4, temperature: 0, messages: [{ role: 'user', content: [q] }] });
    const img = await anthropic.messages.create({
      model, max_tokens: 4, temperature: 0,
      messages: [{ role: 'user', content: [q, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: b64('b.png') } }] }],
    });
    // Anthropic's input_tokens leave out what the prompt cache supplied.
    const total = (u) => u.input_tokens + (u.cache_read_input_tokens || 0) + (u.cache_creation_input_tokens || 0);
    assert.equal(total(img.usage) - total(base.usage), N_B + 2);
    const counted = await anthropic.messages.countTokens({
      model, messages: [{ role: 'user', content: [q, { type: 'image', source: { type: 'base64', media_type: 'image/png', data: b64('b.png') } }] }],
    });
    assert.equal(counted.input_tokens, total(img.usage));
    await assert.rejects(anthropic.messages.create({
      model, max_tokens: 4,
      messages: [{ role: 'user', content: [q, { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } }] }],
    }), (e) => e.status === 400 && e.message.includes('remote URLs are not fetched') && e.message.includes('messages[0].content[1].source.url'));
  });

  const failed = results.filter(([ok]) => !ok).length;
  console.log(`${results.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  console.log(`FAIL - unexpected: ${e && e.stack ? e.stack : e}`);
  process.exit(1);
});
