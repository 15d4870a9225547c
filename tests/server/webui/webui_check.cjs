// Drives the chat page of `gemma4 serve` in headless Chromium (Debian's chromium, puppeteer-core):
// the API key prompt, a streamed answer, stopping a long answer, regenerate, a reload that finds the
// conversation again, and an answer full of HTML that must stay text. Prints one line per check and
// "N passed, M failed"; exits non-zero on any failure. Screenshots of each state go to SHOT_DIR.
//
// With a model that has towers (MEDIA_MODEL_DIR, from `demo-model --media`), a picture and a sound clip are
// attached through the page's buttons and sent: the request carries them as image_url / input_audio parts
// and the server answers.
//
//   node webui_check.cjs GEMMA4_BINARY MODEL_DIR SHOT_DIR [MEDIA_MODEL_DIR IMAGE.png CLIP.wav]
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

const [bin, model, shotDir, mediaModel, imageFile, clipFile] = process.argv.slice(2);
const KEY = 'webui-test-key';
let passed = 0, failed = 0;
function check(name, ok, detail = '') {
  if (ok) passed++; else failed++;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || !detail ? '' : `: ${detail}`}`);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startServer(served = model) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['serve', '--model', served, '--port', '0', '--image-tokens', '70', '--api-key', KEY, '--ctx', '8192', '--parallel', '1'],
                       { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${out}`)), 120000);
    proc.stderr.on('data', (d) => { if (process.env.G4_WEBUI_VERBOSE) process.stderr.write(d); });
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)\n/);
      if (m) { clearTimeout(timer); resolve({ proc, url: m[1] }); }
    });
    proc.on('exit', (code) => reject(new Error(`the server exited (${code}): ${out}`)));
  });
}

async function shot(page, name, what) {
  const file = path.join(shotDir, name);
  await page.screenshot({ path: file });
  console.log(`screenshot ${file}: ${what}`);
}

// The conversations the page stored in localStorage.
const stored = (page) => page.evaluate(() => JSON.parse(localStorage.getItem('gemma4.conversations') || '[]'));
const idle = (page, timeout = 60000) => page.waitForFunction(() => !document.getElementById('send').hidden, { timeout });

async function setSetting(page, id, value) {
  if (await page.$eval('#settings', (s) => s.hidden)) await page.click('#settings-button');
  await page.$eval(`#${id}`, (e, v) => { e.value = v; e.dispatchEvent(new Event('input')); }, String(value));
}

async function sendMessage(page, text) {
  await page.click('#input');
  await page.type('#input', text);
  await page.keyboard.press('Enter');
}

function sseBody(deltas) {
  const chunk = (delta, finish = null) => `data: ${JSON.stringify({ id: 'x', object: 'chat.completion.chunk', created: 0, model: 'demo',
    choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  return chunk({ role: 'assistant', content: '' }) + deltas.map((d) => chunk(d)).join('') + chunk({}, 'stop') + 'data: [DONE]\n\n';
}

async function main() {
  fs.mkdirSync(shotDir, { recursive: true });
  const { proc, url } = await startServer();
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    // Test instrumentation: keep a copy of each chat completion stream the page reads (UTF-8 decoded).
    await page.evaluateOnNewDocument(() => {
      window.__sse = [];
      const original = window.fetch;
      window.fetch = async (...args) => {
        const resp = await original(...args);
        if (String(args[0]).endsWith('/v1/chat/completions') && resp.ok) {
          const [mine, theirs] = resp.body.tee();
          new Response(mine).text().then((t) => window.__sse.push(t), () => {});
          return new Response(theirs, { status: resp.status, headers: resp.headers });
        }
        return resp;
      };
    });
    await page.setViewport({ width: 1100, height: 720 });
    const problems = [];  // page errors and CSP reports: there must be none
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    page.on('console', (m) => { if (/Content Security Policy|Refused to/i.test(m.text())) problems.push(`console: ${m.text()}`); });
    const requested = [];
    page.on('request', (r) => requested.push(r.url()));
    const chatRequests = [];
    page.on('request', (r) => { if (r.url().endsWith('/v1/chat/completions')) chatRequests.push(r); });

    // --- the page, its headers, and the API key prompt (the server has --api-key) ---
    const resp = await page.goto(`${url}/`, { waitUntil: 'domcontentloaded' });
    const h = resp.headers();
    check('GET / is the chat page (200, text/html)', resp.status() === 200 && /text\/html/.test(h['content-type']));
    const csp = h['content-security-policy'] || '';
    check('the page has a strict Content-Security-Policy', /default-src 'none'/.test(csp) && /script-src 'self'/.test(csp) &&
          !/unsafe-inline|unsafe-eval/.test(csp), csp);
    check('nosniff', h['x-content-type-options'] === 'nosniff');
    const js = await fetch(`${url}/app.js`);
    check('/app.js is served as JavaScript with the same policy', js.status === 200 &&
          /^text\/javascript/.test(js.headers.get('content-type')) && js.headers.get('content-security-policy') === csp);
    check('the page has no inline script', !/<script(?![^>]*\bsrc=)[^>]*>/i.test(await (await fetch(`${url}/`)).text()));
    check('an unknown file is 404', (await fetch(`${url}/nothing.js`)).status === 404);
    check('POST / is refused', (await fetch(`${url}/`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' })).status === 405);
    check('the API still wants the key', (await fetch(`${url}/v1/models`)).status === 401);
    await page.waitForSelector('#key-dialog[open]', { timeout: 10000 });
    check('a 401 from the server asks for the API key', true);
    await shot(page, '01-api-key.png', 'the page asks for the API key after the server answered 401');
    await page.type('#key-input', 'wrong-key');
    await page.click('#key-ok');
    await page.waitForFunction(() => /refused/.test(document.getElementById('key-message').textContent) &&
                               document.getElementById('key-dialog').open, { timeout: 10000 });
    check('a wrong key is refused and asked for again', true);
    await page.type('#key-input', KEY);
    await page.click('#key-ok');
    await page.waitForFunction(() => /demo/.test(document.getElementById('model').textContent), { timeout: 10000 });
    check('with the key the page names the served model', true);
    check('the key is kept in localStorage', await page.evaluate(() => localStorage.getItem('gemma4.apiKey')) === KEY);
    check('image/audio buttons are disabled with a note while the server takes text only',
          await page.evaluate(() => document.getElementById('attach-image').disabled && document.getElementById('attach-audio').disabled &&
                              /text only/.test(document.getElementById('attach-note').textContent)));

    // --- a streamed answer ---
    await setSetting(page, 'max_tokens', 24);
    await setSetting(page, 'system', 'You are terse.');
    await setSetting(page, 'temperature', 0.7);
    await page.click('#settings-button');
    await sendMessage(page, 'Hello there');
    await idle(page);
    // The bytes the server sent, as the page's own fetch saw them (teed by the hook installed below).
    const sse = await page.evaluate(() => window.__sse.join(''));
    const req = chatRequests[chatRequests.length - 1];
    const body = JSON.parse(req.postData());
    check('the request streams with the settings and the key', body.stream === true && body.max_tokens === 24 && body.temperature === 0.7 &&
          body.messages[0].role === 'system' && body.messages[0].content === 'You are terse.' &&
          req.headers().authorization === `Bearer ${KEY}`, JSON.stringify(body));
    const deltas = sse.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6)))
      .map((j) => j.choices?.[0]?.delta?.content || '').filter((c) => c);
    let convs = await stored(page);
    const answer = convs[0]?.messages?.[1];
    check('the answer arrived as several server-sent events', deltas.length > 3, `${deltas.length} events`);
    check('the page kept exactly the streamed text', answer && answer.role === 'assistant' && answer.content === deltas.join(''),
          `${JSON.stringify(answer)} vs ${JSON.stringify(deltas.join(''))}`);
    const shown = await page.$$eval('.msg.assistant .content', (n) => n.map((x) => x.textContent));
    check('the answer is shown', shown.length === 1 && shown[0].replace(/\s/g, '').length > 0);
    await shot(page, '02-answer.png', 'a streamed answer from the demo model (random weights: the words are noise), settings closed');

    // --- stop a long answer ---
    await setSetting(page, 'max_tokens', 4000);
    await page.click('#settings-button');
    await page.evaluate(() => {  // record the answer's length each time the page changes it
      window.__lengths = [];
      new MutationObserver(() => {
        const all = document.querySelectorAll('.msg.assistant .content');
        const n = all.length ? all[all.length - 1].textContent.length : 0;
        if (window.__lengths[window.__lengths.length - 1] !== n) window.__lengths.push(n);
      }).observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });
    });
    await sendMessage(page, 'Tell me a very long story');
    await page.waitForFunction(() => window.__lengths.filter((n) => n > 0).length >= 4, { timeout: 60000 });
    check('the answer grows on the page while it streams', true);
    await shot(page, '03-streaming.png', 'a long answer streaming; the Stop button replaces Send');
    await page.click('#stop');
    await idle(page, 10000);
    convs = await stored(page);
    const long = convs[0].messages[3];
    check('Stop ends the answer and keeps what came', long.stopped === true && long.content.length > 0 && !long.finish, JSON.stringify(long).slice(0, 200));
    let cancelled = 0;
    for (let i = 0; i < 50 && cancelled < 1; i++) {
      const metrics = await (await fetch(`${url}/metrics`)).text();
      cancelled = Number((metrics.match(/g4_sequences_total\{result="cancelled"\} (\d+)/) || [])[1] || 0);
      if (cancelled < 1) await sleep(100);
    }
    check('the server cancelled the generation', cancelled >= 1, `cancelled=${cancelled}`);
    await shot(page, '04-stopped.png', 'the stopped answer, marked "stopped", with a Regenerate button');

    // --- regenerate ---
    await setSetting(page, 'max_tokens', 10);
    await page.click('#settings-button');
    const before = chatRequests.length;
    await page.click('.msg.assistant:last-child .regenerate');
    await page.waitForFunction(() => document.getElementById('send').hidden, { timeout: 5000 }).catch(() => {});
    await idle(page);
    convs = await stored(page);
    const regen = convs[0].messages;
    check('Regenerate asks again and replaces the last answer', chatRequests.length === before + 1 && regen.length === 4 &&
          regen[3].role === 'assistant' && !regen[3].stopped && regen[3].content.length > 0 &&
          JSON.parse(chatRequests[before].postData()).messages.slice(-1)[0].content === 'Tell me a very long story');

    // --- reload: the conversation is still there ---
    await page.reload({ waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => /demo/.test(document.getElementById('model').textContent), { timeout: 10000 });
    const titles = await page.$$eval('#conversations .open', (n) => n.map((x) => x.textContent));
    const users = await page.$$eval('.msg.user .content', (n) => n.map((x) => x.textContent));
    check('after a reload the conversation is listed and shown', titles.length === 1 && titles[0] === 'Hello there' &&
          users.join('|') === 'Hello there|Tell me a very long story' && !(await page.$('#key-dialog[open]')),
          `${titles} / ${users}`);
    check('and its answers are shown as they were', (await page.$$eval('.msg.assistant .content', (n) => n.length)) === 2);
    await shot(page, '05-reloaded.png', 'after a reload: the conversation is listed in the sidebar and shown again');

    // --- an answer full of HTML stays text (the stream is replaced by the test, not by the server) ---
    await page.evaluate(() => { window.__pwned = 0; });
    await page.setRequestInterception(true);
    const hostile = [
      { reasoning_content: 'I will answer with <img src=x onerror="window.__pwned=1"> markup' },
      { content: 'Here is <script>window.__pwned=2</script> and ' },
      { content: '<img src=x onerror="window.__pwned=3"> and <b>bold?</b>\n\n' },
      { content: '```html\n<script>window.__pwned=4</script>\n```\n\n' },
      { content: '[click me](javascript:window.__pwned=5) and [safe](https://example.com/a) and **real bold** and `<i>code</i>`\n\n' },
      { content: '| col | <u>x</u> |\n|---|---|\n| <iframe src=x></iframe> | 2 |\n' },
    ];
    page.on('request', (r) => {
      if (r.isInterceptResolutionHandled()) return;
      if (r.url().endsWith('/v1/chat/completions') && r.method() === 'POST') {
        r.respond({ status: 200, contentType: 'text/event-stream', body: sseBody(hostile) });
      } else {
        r.continue();
      }
    });
    await page.click('#new-chat');
    await sendMessage(page, 'Show me some HTML');
    await idle(page);
    await sleep(300);
    const xss = await page.evaluate(() => {
      const c = [...document.querySelectorAll('.msg.assistant .content')].pop();
      const t = document.querySelector('.msg.assistant .thinking-body');
      return {
        pwned: window.__pwned,
        text: c.textContent,
        thinking: t.textContent,
        markup: document.querySelectorAll('#messages script, #messages img, #messages iframe, #messages b, #messages u, #messages i').length,
        jsLinks: [...document.querySelectorAll('#messages a')].filter((a) => !/^https?:|^mailto:/.test(a.href)).length,
        safeLinks: [...document.querySelectorAll('#messages a')].map((a) => a.href),
        strong: [...c.querySelectorAll('strong')].map((s) => s.textContent),
        code: [...c.querySelectorAll('pre code')].map((s) => s.textContent),
        cells: [...c.querySelectorAll('td')].map((s) => s.textContent),
      };
    });
    check('no script from the answer ran', xss.pwned === 0, `__pwned=${xss.pwned}`);
    check('<script> and <img onerror> are shown as text', xss.text.includes('<script>window.__pwned=2</script>') &&
          xss.text.includes('<img src=x onerror="window.__pwned=3">') && xss.thinking.includes('<img src=x onerror='), xss.text);
    check('no element came from the answer\'s HTML', xss.markup === 0, `${xss.markup} elements`);
    check('a javascript: link is not a link; an https link is', xss.jsLinks === 0 && xss.safeLinks.length === 1 &&
          xss.safeLinks[0] === 'https://example.com/a', JSON.stringify(xss.safeLinks));
    check('Markdown still renders (bold, code block, table)', xss.strong.includes('real bold') &&
          xss.code.some((c) => c.includes('<script>window.__pwned=4</script>')) && xss.cells.includes('<iframe src=x></iframe>'),
          JSON.stringify(xss));
    check('nothing was fetched from the answer (no request for "x")', !requested.some((u) => /\/x$/.test(u)));
    await page.click('.msg.assistant .thinking summary');
    await shot(page, '06-html-as-text.png', 'an answer (injected by the test) with <script>, <img onerror>, a javascript: link and ' +
               'HTML in a table: all shown as text; the thinking unfolded; bold, code block and table rendered');
    await page.setRequestInterception(false);
    check('no page errors and no CSP violations', problems.length === 0, problems.join('; '));
    if (mediaModel) await mediaPhase(browser);
  } finally {
    await browser.close();
    proc.kill('SIGTERM');
  }
}

// The chat page on a model with towers: attachments through the buttons, sent as content parts.
async function mediaPhase(browser) {
  const { proc, url } = await startServer(mediaModel);
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1100, height: 720 });
    const problems = [];
    page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
    const chatRequests = [];
    page.on('request', (r) => { if (r.url().endsWith('/v1/chat/completions')) chatRequests.push(r); });
    const answers = [];
    page.on('response', (r) => { if (r.url().endsWith('/v1/chat/completions')) answers.push(r.status()); });
    await page.goto(`${url}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForSelector('#key-dialog[open]', { timeout: 10000 });
    await page.type('#key-input', KEY);
    await page.click('#key-ok');
    await page.waitForFunction(() => !document.getElementById('attach-image').disabled, { timeout: 10000 });
    check('with towers, the image and audio buttons are enabled',
          await page.evaluate(() => !document.getElementById('attach-image').disabled && !document.getElementById('attach-audio').disabled));
    await (await page.$('#image-file')).uploadFile(imageFile);
    await (await page.$('#audio-file')).uploadFile(clipFile);
    await page.waitForFunction(() => document.getElementById('attachments').children.length === 2, { timeout: 10000 });
    check('both attachments are listed before sending', true);
    await shot(page, '07-attachments.png', 'a picture and a sound clip attached, before sending');
    await setSetting(page, 'max_tokens', 8);
    await page.click('#settings-button');
    await sendMessage(page, 'What do you see and hear?');
    await idle(page);
    const body = JSON.parse(chatRequests[chatRequests.length - 1].postData());
    const parts = body.messages[body.messages.length - 1].content;
    check('the request carries the picture and the clip as content parts',
          Array.isArray(parts) && parts.some((p) => p.type === 'image_url' && /^data:image\/png;base64,/.test(p.image_url.url)) &&
          parts.some((p) => p.type === 'input_audio' && p.input_audio.format === 'wav' && p.input_audio.data.length > 100),
          JSON.stringify(parts).slice(0, 300));
    check('the server answered it (200)', answers[answers.length - 1] === 200, JSON.stringify(answers));
    const shown = await page.evaluate(() => ({
      images: document.querySelectorAll('.msg.user img.attachment').length,
      errors: document.querySelectorAll('.msg .error').length,
      answer: [...document.querySelectorAll('.msg.assistant')].map((m) => m.textContent).join('').length,
    }));
    check('the message shows its picture, the answer came, no error', shown.images === 1 && shown.errors === 0 && shown.answer > 0,
          JSON.stringify(shown));
    await shot(page, '08-media-answer.png', 'the message with its picture and sound clip, and the (random) answer');
    check('no page errors on the media page', problems.length === 0, problems.join('; '));
  } finally {
    proc.kill('SIGTERM');
  }
}

main().catch((e) => { failed++; console.log(`FAIL ${e.stack || e}`); }).finally(() => {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});
