// Markdown to DOM nodes, safely. A model's text only ever enters the page as text nodes
// (document.createTextNode / textContent): no innerHTML, no HTML passed through, and the only attribute
// taken from the text is a link's href, and that only when it is an http(s) or mailto URL. So an answer
// containing <script> or <img onerror=...> shows those characters and nothing runs.
//
// Covered: paragraphs (single newlines are line breaks), # headings, fenced code (``` or ~~~, also
// unclosed while an answer streams), indented lists (-, *, +, 1.), > quotes, --- rules, | tables |,
// `code`, **bold**, *italic*, _italic_, ~~strike~~, [links](url), bare http(s) URLs, \ escapes.
// Images ![alt](url) become links: the page fetches nothing a model names.

const SAFE_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

export function safeHref(url) {
  try {
    const u = new URL(url, 'http://invalid.invalid/');
    if (!SAFE_PROTOCOLS.has(u.protocol) || u.host === 'invalid.invalid') return null;
    return u.href;
  } catch {
    return null;
  }
}

function el(tag, cls) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  return e;
}

function link(text, href) {
  const safe = safeHref(href);
  if (!safe) return null;
  const a = el('a');
  a.href = safe;
  a.rel = 'noopener noreferrer nofollow';
  a.target = '_blank';
  a.textContent = text;
  return a;
}

// One regular expression for every inline construct; the alternatives are tried left to right at the
// earliest position.
const INLINE = new RegExp([
  '(`+)([^`]|[^`][\\s\\S]*?[^`])\\1(?!`)',             // 1,2 code span
  '\\*\\*(?=\\S)([\\s\\S]*?\\S)\\*\\*',                  // 3 bold
  '__(?=\\S)([\\s\\S]*?\\S)__(?!\\w)',                   // 4 bold
  '~~(?=\\S)([\\s\\S]*?\\S)~~',                          // 5 strike
  '\\*(?=[^\\s*])([\\s\\S]*?[^\\s*])\\*(?!\\*)',         // 6 italic
  '(?<![\\w])_(?=[^\\s_])([\\s\\S]*?[^\\s_])_(?!\\w)',   // 7 italic
  '(!?)\\[([^\\]\\n]*)\\]\\(\\s*<?([^\\s)<>]+)>?(?:\\s+"[^"]*")?\\s*\\)',  // 8,9,10 link / image
  '(https?:\\/\\/[^\\s<>()\\[\\]]*[^\\s<>()\\[\\].,;:!?\'"*_~])',  // 11 bare URL
  '\\\\([\\\\`*_{}\\[\\]()#+\\-.!~|>])',                 // 12 escape
  '(\\n)',                                               // 13 line break
].join('|'), 'g');

export function renderInline(text, parent) {
  const re = new RegExp(INLINE.source, 'g');  // its own position: the calls nest
  let last = 0;
  for (let m; (m = re.exec(text)) !== null;) {
    if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
    last = re.lastIndex;
    if (m[1] !== undefined) {
      const c = el('code');
      c.textContent = m[2].length > 2 && m[2].startsWith(' ') && m[2].endsWith(' ') ? m[2].slice(1, -1) : m[2];
      parent.appendChild(c);
    } else if (m[3] !== undefined || m[4] !== undefined) {
      const b = el('strong');
      renderInline(m[3] ?? m[4], b);
      parent.appendChild(b);
    } else if (m[5] !== undefined) {
      const s = el('del');
      renderInline(m[5], s);
      parent.appendChild(s);
    } else if (m[6] !== undefined || m[7] !== undefined) {
      const i = el('em');
      renderInline(m[6] ?? m[7], i);
      parent.appendChild(i);
    } else if (m[9] !== undefined) {
      const label = m[8] ? `image: ${m[9] || m[10]}` : m[9] || m[10];
      parent.appendChild(link(label, m[10]) ?? document.createTextNode(m[0]));
    } else if (m[11] !== undefined) {
      parent.appendChild(link(m[11], m[11]) ?? document.createTextNode(m[11]));
    } else if (m[12] !== undefined) {
      parent.appendChild(document.createTextNode(m[12]));
    } else {
      parent.appendChild(el('br'));
    }
    if (re.lastIndex === m.index) re.lastIndex++;  // never loop on an empty match
  }
  if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;
const QUOTE = /^ {0,3}> ?(.*)$/;
const ITEM = /^(\s*)([-*+]|\d{1,9}[.)])\s+(.*)$/;
const TABLE_SEP = /^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$/;

function splitRow(line) {
  let s = line.trim();
  if (s.startsWith('|')) s = s.slice(1);
  if (s.endsWith('|') && !s.endsWith('\\|')) s = s.slice(0, -1);
  return s.split(/(?<!\\)\|/).map((c) => c.trim().replace(/\\\|/g, '|'));
}

function startsBlock(line, next) {
  return FENCE.test(line) || HEADING.test(line) || RULE.test(line) || QUOTE.test(line) || ITEM.test(line) ||
         (line.includes('|') && next !== undefined && TABLE_SEP.test(next) && next.includes('-'));
}

function codeBlock(lines, i, out) {
  const [, fence, lang] = lines[i].match(FENCE);
  const body = [];
  let j = i + 1;
  for (; j < lines.length; j++) {
    const t = lines[j].trim();
    if (t.startsWith(fence[0].repeat(fence.length)) && /^[`~]+$/.test(t)) { j++; break; }
    body.push(lines[j]);
  }
  const wrap = el('div', 'code');
  const bar = el('div', 'code-bar');
  const name = el('span');
  name.textContent = lang || 'code';
  const copy = el('button', 'copy');
  copy.type = 'button';
  copy.textContent = 'Copy';
  const text = body.join('\n');
  copy.addEventListener('click', () => {
    navigator.clipboard?.writeText(text).then(() => { copy.textContent = 'Copied'; }, () => { copy.textContent = 'Copy failed'; });
  });
  bar.append(name, copy);
  const pre = el('pre');
  const code = el('code');
  if (lang) code.dataset.lang = lang;
  code.textContent = text;
  pre.appendChild(code);
  wrap.append(bar, pre);
  out.appendChild(wrap);
  return j;
}

function list(lines, i, out) {
  const first = lines[i].match(ITEM);
  const indent = first[1].length;
  const ordered = /\d/.test(first[2]);
  const l = el(ordered ? 'ol' : 'ul');
  if (ordered && parseInt(first[2], 10) !== 1) l.start = parseInt(first[2], 10);
  let j = i;
  while (j < lines.length) {
    const m = lines[j].match(ITEM);
    if (!m || m[1].length !== indent || /\d/.test(m[2]) !== ordered) break;
    const body = [m[3]];
    j++;
    // The item's further lines: indented deeper than its marker (nested lists too), or plain continuation.
    while (j < lines.length && lines[j].trim() !== '') {
      const n = lines[j].match(ITEM);
      const deeper = lines[j].search(/\S/) > indent;
      if (n && !deeper) break;
      if (!n && !deeper && startsBlock(lines[j], lines[j + 1])) break;
      body.push(deeper ? lines[j].slice(Math.min(lines[j].search(/\S/), indent + 2)) : lines[j]);
      j++;
    }
    const li = el('li');
    const inner = renderBlocks(body.join('\n'));
    // A one-paragraph item is shown without the paragraph's margins.
    if (inner.childNodes.length === 1 && inner.firstChild.nodeName === 'P') li.append(...inner.firstChild.childNodes);
    else li.appendChild(inner);
    l.appendChild(li);
    if (j < lines.length && lines[j].trim() === '' && lines[j + 1] !== undefined && ITEM.test(lines[j + 1]) &&
        lines[j + 1].match(ITEM)[1].length === indent) j++;  // a blank line between items
  }
  out.appendChild(l);
  return j;
}

function table(lines, i, out) {
  const head = splitRow(lines[i]);
  const aligns = splitRow(lines[i + 1]).map((c) => (c.startsWith(':') && c.endsWith(':') ? 'center' : c.endsWith(':') ? 'right' : ''));
  const t = el('table');
  const tr = el('tr');
  head.forEach((h, k) => {
    const th = el('th', aligns[k] ? `align-${aligns[k]}` : '');
    renderInline(h, th);
    tr.appendChild(th);
  });
  const thead = el('thead');
  thead.appendChild(tr);
  const tbody = el('tbody');
  let j = i + 2;
  for (; j < lines.length && lines[j].includes('|') && lines[j].trim() !== ''; j++) {
    const row = el('tr');
    splitRow(lines[j]).forEach((c, k) => {
      const td = el('td', aligns[k] ? `align-${aligns[k]}` : '');
      renderInline(c, td);
      row.appendChild(td);
    });
    tbody.appendChild(row);
  }
  t.append(thead, tbody);
  const wrap = el('div', 'table');
  wrap.appendChild(t);
  out.appendChild(wrap);
  return j;
}

export function renderBlocks(src) {
  const out = document.createDocumentFragment();
  const lines = src.replace(/\r\n?/g, '\n').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (line.trim() === '') { i++; continue; }
    let m;
    if (FENCE.test(line)) { i = codeBlock(lines, i, out); continue; }
    if ((m = line.match(HEADING))) {
      const h = el(`h${m[1].length}`);
      renderInline(m[2], h);
      out.appendChild(h);
      i++;
      continue;
    }
    if (RULE.test(line)) { out.appendChild(el('hr')); i++; continue; }
    if (QUOTE.test(line)) {
      const body = [];
      for (; i < lines.length && (m = lines[i].match(QUOTE)); i++) body.push(m[1]);
      const q = el('blockquote');
      q.appendChild(renderBlocks(body.join('\n')));
      out.appendChild(q);
      continue;
    }
    if (ITEM.test(line)) { i = list(lines, i, out); continue; }
    if (line.includes('|') && lines[i + 1] !== undefined && TABLE_SEP.test(lines[i + 1]) && lines[i + 1].includes('-')) {
      i = table(lines, i, out);
      continue;
    }
    const para = [line];
    for (i++; i < lines.length && lines[i].trim() !== '' && !startsBlock(lines[i], lines[i + 1]); i++) para.push(lines[i]);
    const p = el('p');
    renderInline(para.join('\n'), p);
    out.appendChild(p);
  }
  return out;
}

// Renders `src` into `container`, replacing what it held.
export function renderMarkdown(src, container) {
  container.replaceChildren(renderBlocks(src));
}
