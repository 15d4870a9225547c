// The chat page of `gemma4 serve`: talks to this server's OpenAI-compatible /v1/chat/completions
// (streamed with server-sent events), keeps conversations and settings in localStorage, and renders
// answers with markdown.js (text nodes only: model output can never become markup or script).
import { renderMarkdown } from './markdown.js';

const $ = (id) => document.getElementById(id);
const KEYS = { conversations: 'gemma4.conversations', current: 'gemma4.current', settings: 'gemma4.settings', apiKey: 'gemma4.apiKey' };
const NUMERIC = ['temperature', 'top_p', 'top_k', 'min_p', 'max_tokens', 'seed'];
const INTEGER = new Set(['top_k', 'max_tokens', 'seed']);

function load(key, fallback) {
  try {
    const v = JSON.parse(localStorage.getItem(key));
    return v ?? fallback;
  } catch {
    return fallback;
  }
}

function store(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch (e) {
    showNotice(`Could not save in this browser: ${e.message}`);
  }
}

const state = {
  conversations: load(KEYS.conversations, []),
  currentId: load(KEYS.current, null),
  settings: { system: '', thinking: false, ...load(KEYS.settings, {}) },
  apiKey: localStorage.getItem(KEYS.apiKey) || '',
  model: null,
  media: { image: false, audio: false },
  attachments: [],
  busy: null,  // { conv, msg, controller } while an answer streams
};
if (!Array.isArray(state.conversations)) state.conversations = [];

const current = () => state.conversations.find((c) => c.id === state.currentId) || null;
const saveConversations = () => { store(KEYS.conversations, state.conversations); store(KEYS.current, state.currentId); };

// ---- talking to the server ----

function headers(json) {
  const h = {};
  if (json) h['Content-Type'] = 'application/json';
  if (state.apiKey) h.Authorization = `Bearer ${state.apiKey}`;
  return h;
}

// Asks for the API key (after a 401); resolves true when one was entered.
function askForKey(message) {
  const dialog = $('key-dialog');
  $('key-message').textContent = message;
  $('key-input').value = '';
  return new Promise((resolve) => {
    const done = (ok) => {
      $('key-ok').onclick = $('key-cancel').onclick = $('key-input').onkeydown = dialog.oncancel = null;
      if (ok) {
        state.apiKey = $('key-input').value.trim();
        localStorage.setItem(KEYS.apiKey, state.apiKey);
        updateKeyState();
      }
      dialog.close();
      resolve(ok && state.apiKey !== '');
    };
    $('key-ok').onclick = () => done(true);
    $('key-cancel').onclick = () => done(false);
    dialog.oncancel = () => done(false);
    $('key-input').onkeydown = (e) => { if (e.key === 'Enter') done(true); };
    dialog.showModal();
    $('key-input').focus();
  });
}

async function errorText(resp) {
  try {
    const j = await resp.json();
    return j.error?.message || `HTTP ${resp.status}`;
  } catch {
    return `HTTP ${resp.status}`;
  }
}

const KEY_NEEDED = 'This server needs an API key (the one given to gemma4 serve --api-key):';
const KEY_REFUSED = 'That API key was refused. Enter the server\'s API key:';

// A 401: asks for the key (again, while the server refuses it); false when the user cancels.
function keyAfter401() {
  return askForKey(state.apiKey ? KEY_REFUSED : KEY_NEEDED);
}

// GET with the key; a 401 asks for one and retries.
async function getJson(path) {
  for (;;) {
    const resp = await fetch(path, { headers: headers(false) });
    if (resp.status === 401 && await keyAfter401()) continue;
    if (!resp.ok) throw new Error(await errorText(resp));
    return resp.json();
  }
}

async function loadServerInfo() {
  try {
    const models = await getJson('/v1/models');
    state.model = models.data?.[0]?.id || null;
    $('model').textContent = state.model ? `gemma4 · ${state.model}` : 'gemma4';
    const props = await getJson('/props');
    // Attachments turn on once the server reports that it accepts them (llama-server's /props field).
    state.media.image = props.modalities?.vision === true;
    state.media.audio = props.modalities?.audio === true;
  } catch (e) {
    showNotice(`The server did not answer: ${e.message}`);
  }
  updateAttachButtons();
}

function requestBody(conv) {
  const s = state.settings;
  const messages = [];
  if (s.system.trim()) messages.push({ role: 'system', content: s.system });
  for (const m of conv.messages) {
    if (m === state.busy?.msg) continue;
    if (m.role === 'assistant' && m.error && !m.content) continue;
    messages.push({ role: m.role, content: m.parts ? m.parts : m.content });
  }
  const body = { model: state.model || 'gemma4', stream: true, messages };
  for (const k of NUMERIC) {
    if (s[k] === undefined || s[k] === '') continue;
    body[k] = INTEGER.has(k) ? parseInt(s[k], 10) : parseFloat(s[k]);
  }
  if (s.thinking) body.chat_template_kwargs = { enable_thinking: true };
  return body;
}

// Reads the server-sent events of a streamed chat completion into `msg`.
async function readStream(resp, msg, conv) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let at;
    while ((at = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, at);
      buffer = buffer.slice(at + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') return;
        const j = JSON.parse(data);
        if (j.error) { msg.error = j.error.message || 'the server reported an error'; continue; }
        const choice = j.choices?.[0];
        if (!choice) continue;
        msg.reasoning = (msg.reasoning || '') + (choice.delta?.reasoning_content || '');
        msg.content += choice.delta?.content || '';
        if (choice.finish_reason) msg.finish = choice.finish_reason;
      }
      scheduleUpdate(conv, msg);
    }
  }
}

async function generate(conv) {
  const msg = { role: 'assistant', content: '', reasoning: '' };
  conv.messages.push(msg);
  const controller = new AbortController();
  state.busy = { conv, msg, controller };
  renderAll();
  try {
    for (;;) {
      const resp = await fetch('/v1/chat/completions', {
        method: 'POST', headers: headers(true), body: JSON.stringify(requestBody(conv)), signal: controller.signal,
      });
      if (resp.status === 401 && await keyAfter401()) continue;
      if (!resp.ok) { msg.error = await errorText(resp); break; }
      await readStream(resp, msg, conv);
      break;
    }
  } catch (e) {
    if (e.name === 'AbortError') msg.stopped = true;
    else msg.error = e.message;
  } finally {
    state.busy = null;
    conv.updated = Date.now();
    saveConversations();
    renderAll();
  }
}

function send() {
  const text = $('input').value;
  if (state.busy || (!text.trim() && state.attachments.length === 0)) return;
  let conv = current();
  if (!conv) {
    conv = { id: `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`, title: '', messages: [], updated: Date.now() };
    state.conversations.unshift(conv);
    state.currentId = conv.id;
  }
  const msg = { role: 'user', content: text };
  if (state.attachments.length) msg.parts = [{ type: 'text', text }, ...state.attachments.map((a) => a.part)];
  conv.messages.push(msg);
  if (!conv.title) conv.title = text.trim().slice(0, 60) || 'Attachment';
  $('input').value = '';
  state.attachments = [];
  renderAttachments();
  saveConversations();
  generate(conv);
}

function stop() {
  state.busy?.controller.abort();
}

function regenerate(conv) {
  if (state.busy) return;
  while (conv.messages.length && conv.messages[conv.messages.length - 1].role === 'assistant') conv.messages.pop();
  if (!conv.messages.length) return;
  generate(conv);
}

// ---- rendering ----

let pending = null;
function scheduleUpdate(conv, msg) {
  if (pending) return;
  pending = requestAnimationFrame(() => {
    pending = null;
    if (conv.id === state.currentId) updateMessage(msg);
    saveThrottled();
  });
}

let lastSave = 0;
function saveThrottled() {
  if (Date.now() - lastSave < 500) return;
  lastSave = Date.now();
  saveConversations();
}

const nodes = new WeakMap();  // message -> its DOM parts

function messageNode(conv, msg, last) {
  const box = document.createElement('div');
  box.className = `msg ${msg.role}`;
  const role = document.createElement('div');
  role.className = 'role';
  role.textContent = msg.role === 'user' ? 'You' : 'Gemma';
  box.appendChild(role);
  const parts = { box };
  if (msg.role === 'assistant') {
    const details = document.createElement('details');
    details.className = 'thinking';
    const summary = document.createElement('summary');
    summary.textContent = 'Thinking';
    const body = document.createElement('div');
    body.className = 'thinking-body';
    details.append(summary, body);
    box.appendChild(details);
    parts.details = details;
    parts.thinking = body;
  }
  const content = document.createElement('div');
  content.className = 'content';
  box.appendChild(content);
  parts.content = content;
  if (msg.role === 'user') {
    content.textContent = msg.content;  // what the user typed, as typed
    for (const p of msg.parts || []) {
      if (p.type === 'image_url') {
        const img = document.createElement('img');
        img.className = 'attachment';
        img.alt = 'attached image';
        if (p.image_url?.url?.startsWith('data:image/')) img.src = p.image_url.url;
        box.appendChild(img);
      } else if (p.type === 'input_audio') {
        const note = document.createElement('div');
        note.className = 'note';
        note.textContent = `attached audio (${p.input_audio?.format || 'audio'})`;
        box.appendChild(note);
      }
    }
  }
  const meta = document.createElement('div');
  meta.className = 'meta';
  box.appendChild(meta);
  parts.meta = meta;
  parts.conv = conv;
  parts.last = last;
  nodes.set(msg, parts);
  if (msg.role === 'assistant') updateMessage(msg);
  return box;
}

function updateMessage(msg) {
  const parts = nodes.get(msg);
  if (!parts) return;
  const streaming = state.busy?.msg === msg;
  if (parts.details) {
    parts.details.hidden = !msg.reasoning;
    parts.thinking.textContent = msg.reasoning || '';
    parts.details.querySelector('summary').textContent = streaming && !msg.content ? 'Thinking…' : 'Thinking';
  }
  const scroller = $('messages');
  const atBottom = scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  renderMarkdown(msg.content, parts.content);
  parts.box.classList.toggle('streaming', streaming);
  parts.meta.replaceChildren();
  const notes = [];
  if (streaming && !msg.content && !msg.reasoning) notes.push('…');
  if (msg.stopped) notes.push('stopped');
  if (msg.finish === 'length') notes.push('stopped at the length limit');
  if (msg.error) notes.push(`error: ${msg.error}`);
  if (notes.length) {
    const n = document.createElement('span');
    n.className = msg.error ? 'error' : 'note';
    n.textContent = notes.join(' · ');
    parts.meta.appendChild(n);
  }
  if (msg.role === 'assistant' && parts.last && !state.busy) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'regenerate';
    b.textContent = 'Regenerate';
    b.addEventListener('click', () => regenerate(parts.conv));
    parts.meta.appendChild(b);
  }
  if (atBottom) scroller.scrollTop = scroller.scrollHeight;
}

function renderList() {
  const list = $('conversations');
  list.replaceChildren();
  for (const c of [...state.conversations].sort((a, b) => (b.updated || 0) - (a.updated || 0))) {
    const li = document.createElement('li');
    li.classList.toggle('active', c.id === state.currentId);
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open';
    open.textContent = c.title || 'New chat';
    open.title = c.title || '';
    open.addEventListener('click', () => { state.currentId = c.id; saveConversations(); renderAll(); });
    const del = document.createElement('button');
    del.type = 'button';
    del.className = 'delete';
    del.textContent = '×';
    del.title = 'Delete this conversation';
    del.addEventListener('click', () => {
      if (state.busy?.conv === c) stop();
      state.conversations = state.conversations.filter((x) => x !== c);
      if (state.currentId === c.id) state.currentId = null;
      saveConversations();
      renderAll();
    });
    li.append(open, del);
    list.appendChild(li);
  }
}

function renderAll() {
  renderList();
  const box = $('messages');
  box.replaceChildren();
  const conv = current();
  if (!conv || conv.messages.length === 0) {
    const empty = document.createElement('p');
    empty.className = 'empty';
    empty.textContent = 'Start a conversation below.';
    box.appendChild(empty);
  } else {
    conv.messages.forEach((m, i) => box.appendChild(messageNode(conv, m, i === conv.messages.length - 1)));
    box.scrollTop = box.scrollHeight;
  }
  $('send').hidden = !!state.busy;
  $('stop').hidden = !state.busy;
}

let noticeTimer = null;
function showNotice(text) {
  let n = $('notice');
  if (!n) {
    n = document.createElement('div');
    n.id = 'notice';
    document.body.appendChild(n);
  }
  n.textContent = text;
  n.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { n.hidden = true; }, 8000);
}

// ---- settings, key, attachments ----

function bindSettings() {
  const s = state.settings;
  $('system').value = s.system || '';
  $('thinking').checked = !!s.thinking;
  for (const k of NUMERIC) $(k).value = s[k] ?? '';
  const save = () => {
    s.system = $('system').value;
    s.thinking = $('thinking').checked;
    for (const k of NUMERIC) s[k] = $(k).value;
    store(KEYS.settings, s);
  };
  for (const id of ['system', 'thinking', ...NUMERIC]) $(id).addEventListener('input', save);
  $('thinking').addEventListener('change', save);
  $('settings-button').addEventListener('click', () => {
    const panel = $('settings');
    panel.hidden = !panel.hidden;
    $('settings-button').setAttribute('aria-expanded', String(!panel.hidden));
  });
}

function updateKeyState() {
  $('key-state').textContent = state.apiKey ? 'API key: stored in this browser' : 'API key: none stored';
  $('forget-key').disabled = !state.apiKey;
}

function updateAttachButtons() {
  $('attach-image').disabled = !state.media.image;
  $('attach-audio').disabled = !state.media.audio;
  const none = !state.media.image && !state.media.audio;
  $('attach-note').textContent = none ? 'Images and audio: this model takes text only.' :
    !state.media.audio ? 'Audio: this model has no audio tower.' :
    !state.media.image ? 'Images: this model has no vision tower.' : '';
}

function renderAttachments() {
  const box = $('attachments');
  box.replaceChildren();
  state.attachments.forEach((a, i) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'chip';
    b.textContent = `${a.name} ×`;
    b.title = 'Remove';
    b.addEventListener('click', () => { state.attachments.splice(i, 1); renderAttachments(); });
    box.appendChild(b);
  });
}

function readAsDataUrl(file) {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(r.result);
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

function bindAttachments() {
  $('attach-image').addEventListener('click', () => $('image-file').click());
  $('attach-audio').addEventListener('click', () => $('audio-file').click());
  $('image-file').addEventListener('change', async (e) => {
    for (const f of e.target.files) {
      state.attachments.push({ name: f.name, part: { type: 'image_url', image_url: { url: await readAsDataUrl(f) } } });
    }
    e.target.value = '';
    renderAttachments();
  });
  $('audio-file').addEventListener('change', async (e) => {
    for (const f of e.target.files) {
      const url = await readAsDataUrl(f);
      const format = f.type.includes('wav') ? 'wav' : f.type.includes('mpeg') || f.type.includes('mp3') ? 'mp3' : f.type.split('/')[1] || 'wav';
      state.attachments.push({ name: f.name, part: { type: 'input_audio', input_audio: { data: url.slice(url.indexOf(',') + 1), format } } });
    }
    e.target.value = '';
    renderAttachments();
  });
}

function init() {
  bindSettings();
  bindAttachments();
  updateKeyState();
  $('forget-key').addEventListener('click', () => {
    state.apiKey = '';
    localStorage.removeItem(KEYS.apiKey);
    updateKeyState();
  });
  $('send').addEventListener('click', send);
  $('stop').addEventListener('click', stop);
  $('new-chat').addEventListener('click', () => { state.currentId = null; saveConversations(); renderAll(); $('input').focus(); });
  $('input').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) { e.preventDefault(); send(); }
  });
  document.addEventListener('keydown', (e) => { if (e.key === 'Escape' && state.busy) stop(); });
  // Another tab changed the stored conversations: show them (unless this tab is streaming an answer).
  window.addEventListener('storage', (e) => {
    if (e.key !== KEYS.conversations || state.busy) return;
    state.conversations = load(KEYS.conversations, []);
    renderAll();
  });
  renderAll();
  loadServerInfo();
}

init();
