// AutBot's built-in chat page. It talks to the server's public OpenAI-compatible API
// (GET /v1/models, POST /v1/chat/completions with "stream": true) like any client.
// Server text is only ever inserted as text nodes, never as HTML.

const $ = (id) => document.getElementById(id);
const HISTORY_KEY = 'autbot.chat.history';
const API_KEY = 'autbot.chat.apiKey';
const THEME_KEY = 'autbot.chat.theme';
// The server refuses bodies over `server.body_limit_bytes` (32 KiB by default):
// the oldest turns are left out beyond this many bytes.
const MAX_BODY = 24 * 1024;

const ui = {
  log: $('log'), empty: $('empty'), main: $('main'), form: $('composer'),
  question: $('question'), send: $('send'), stop: $('stop'), status: $('status'),
  theme: $('theme'), themeLabel: $('theme-label'), settings: $('settings'),
  apiKey: $('api-key'),
};

let history = loadHistory(); // [{role: 'user'|'assistant', content, sources?, error?, stopped?}]
let model = 'autbot';
let controller = null; // the AbortController of the answer being streamed

// ---- Storage ----

function loadHistory() {
  let saved = [];
  try { saved = JSON.parse(localStorage.getItem(HISTORY_KEY)); } catch { /* unreadable: start afresh */ }
  return Array.isArray(saved) ? saved.filter((m) => typeof m?.content === 'string') : [];
}

function saveHistory() {
  try { localStorage.setItem(HISTORY_KEY, JSON.stringify(history)); } catch { /* full or disabled */ }
}

const apiKey = () => localStorage.getItem(API_KEY) || '';

function headers() {
  const h = { 'Content-Type': 'application/json', Accept: 'text/event-stream, application/json' };
  if (apiKey()) h.Authorization = `Bearer ${apiKey()}`;
  return h;
}

// ---- Rendering ----

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function button(label, className, onClick) {
  const b = el('button', className, label);
  b.type = 'button';
  b.addEventListener('click', onClick);
  return b;
}

// A small safe markdown subset: paragraphs, lists, fenced code, `code`, **bold**, links.
function renderMarkdown(target, text) {
  target.replaceChildren();
  const lines = text.split('\n');
  const listItem = /^\s*([-*+]|\d+[.)])\s+(.*)$/;
  for (let i = 0; i < lines.length;) {
    if (/^\s*```/.test(lines[i])) {
      const code = [];
      for (i++; i < lines.length && !/^\s*```/.test(lines[i]); i++) code.push(lines[i]);
      i++;
      const pre = el('pre');
      pre.append(el('code', '', code.join('\n')));
      target.append(pre);
    } else if (listItem.test(lines[i])) {
      const list = el(/^\s*\d/.test(lines[i]) ? 'ol' : 'ul');
      for (; i < lines.length && listItem.test(lines[i]); i++) {
        const li = el('li');
        inline(li, lines[i].match(listItem)[2]);
        list.append(li);
      }
      target.append(list);
    } else if (!lines[i].trim()) {
      i++;
    } else {
      const p = el('p');
      for (let first = true; i < lines.length && lines[i].trim() && !listItem.test(lines[i])
        && !/^\s*```/.test(lines[i]); i++, first = false) {
        if (!first) p.append(el('br'));
        inline(p, lines[i].replace(/^#{1,6}\s+/, ''));
      }
      target.append(p);
    }
  }
}

function inline(parent, text) {
  const token = /`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g;
  let last = 0;
  for (const m of text.matchAll(token)) {
    parent.append(text.slice(last, m.index));
    if (m[1] !== undefined) parent.append(el('code', '', m[1]));
    else if (m[2] !== undefined) parent.append(el('strong', '', m[2]));
    else {
      const a = el('a', '', m[3]);
      a.href = m[4];
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      parent.append(a);
    }
    last = m.index + m[0].length;
  }
  parent.append(text.slice(last));
}

function renderSources(sources) {
  const box = el('section', 'sources');
  box.append(el('h3', 'sources-title', sources.length === 1 ? '1 source' : `${sources.length} sources`));
  const list = el('ol');
  for (const s of sources) {
    const item = el('li', 'source');
    const head = el(s.text ? 'details' : 'div');
    const summary = el(s.text ? 'summary' : 'div', 'source-head');
    const label = el('span', 'source-label');
    label.append(el('span', 'source-name', String(s.source ?? '')));
    if (s.heading) label.append(el('span', 'source-heading', String(s.heading)));
    summary.append(label);
    if (typeof s.score === 'number') {
      const score = el('span', 'score');
      score.title = 'Relevance score';
      score.append(el('span', 'sr-only', 'score '), s.score.toFixed(2));
      summary.append(score);
    }
    head.append(summary);
    if (s.text) head.append(el('p', 'source-text', String(s.text)));
    item.append(head);
    list.append(item);
  }
  box.append(list);
  return box;
}

// Renders one stored message; returns its element. An answer's element also gets
// `update(live)`, which redraws it (`live`: a new error is announced as an alert).
function renderMessage(msg) {
  if (msg.role === 'user') {
    const article = el('article', 'msg user');
    article.setAttribute('aria-label', 'You asked');
    article.append(el('div', 'bubble', msg.content));
    return article;
  }
  const article = el('article', 'msg bot');
  article.setAttribute('aria-label', 'Answer');
  const body = el('div', 'body');
  const extras = el('div', 'extras');
  article.append(body, extras);
  let sources = null; // kept across redraws, so an opened passage stays open
  article.update = (live = false) => {
    renderMarkdown(body, msg.content);
    extras.replaceChildren();
    if (msg.stopped) extras.append(el('p', 'note', 'Stopped.'));
    if (msg.error) extras.append(renderError(msg.error, live));
    if (msg.sources?.length && sources?.from !== msg.sources) {
      sources = { from: msg.sources, node: renderSources(msg.sources) };
    }
    if (sources) extras.append(sources.node);
    if (!article.classList.contains('streaming')) extras.append(actions(msg));
  };
  article.update();
  return article;
}

function renderError(error, live) {
  const box = el('div', 'error');
  if (live) box.setAttribute('role', 'alert');
  const text = el('p');
  text.append(el('strong', '', 'Error: '), error.message);
  box.append(text);
  if (error.auth) {
    box.append(button('Enter an API key', 'secondary small', () => openSettings()));
  }
  return box;
}

// Copy and Retry under an answer (CSS shows Retry under the last answer only).
function actions(msg) {
  const row = el('div', 'actions');
  if (msg.content) row.append(button('Copy', 'ghost small', (e) => copy(msg.content, e.currentTarget)));
  row.append(button('Retry', 'ghost small retry', retry));
  return row;
}

function renderAll() {
  ui.log.replaceChildren(...history.map((m) => renderMessage(m)));
  ui.empty.hidden = history.length > 0;
  scrollDown(true);
}

// The view follows a growing answer unless the reader has scrolled up from the end.
let following = true;
ui.main.addEventListener('scroll', () => {
  following = ui.main.scrollHeight - ui.main.scrollTop - ui.main.clientHeight < 80;
});
function scrollDown(force) {
  if (force || following) ui.main.scrollTop = ui.main.scrollHeight;
}

// Tells screen readers (the status region is polite; cleared first so a repeat is read).
function announce(text) {
  ui.status.textContent = '';
  setTimeout(() => { ui.status.textContent = text; }, 50);
}

async function copy(text, btn) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // Plain-HTTP pages have no clipboard API: copy through a selected text area.
    const area = el('textarea', 'sr-only', text);
    document.body.append(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }
  btn.textContent = 'Copied';
  announce('Copied to the clipboard.');
  setTimeout(() => { btn.textContent = 'Copy'; }, 1500);
}

// ---- Asking ----

// The conversation sent with a question: the earlier answered turns (the oldest left
// out while the body would be over MAX_BODY), then the question.
function messagesFor(question) {
  const turns = [];
  for (let i = 0; i + 1 < history.length; i += 2) {
    const [q, a] = [history[i], history[i + 1]];
    if (q.role === 'user' && a.role === 'assistant' && !a.error && a.content) {
      turns.push({ role: 'user', content: q.content }, { role: 'assistant', content: a.content });
    }
  }
  const last = { role: 'user', content: question };
  while (turns.length && JSON.stringify([...turns, last]).length > MAX_BODY) turns.splice(0, 2);
  return [...turns, last];
}

async function apiError(res) {
  let message = `The server answered ${res.status} ${res.statusText}.`;
  try {
    const body = await res.json();
    const e = body.error;
    message = (typeof e === 'string' ? e : e?.message) || message;
  } catch { /* not JSON */ }
  const wait = res.headers.get('Retry-After');
  if (res.status === 429 && wait && !/retry/i.test(message)) message += ` (retry in ${wait} s)`;
  // The error box then offers a button to the API key field.
  return { message, auth: res.status === 401 || res.status === 403 };
}

// Reads `data:` events of a server-sent event stream; calls `onData` with each payload.
async function readEvents(res, onData) {
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer = (buffer + value).replace(/\r\n?/g, '\n');
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block.split('\n').filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, '')).join('\n');
        if (data && onData(data) === false) return;
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

async function ask(question) {
  const messages = messagesFor(question);
  const answer = { role: 'assistant', content: '', sources: [] };
  history.push({ role: 'user', content: question }, answer);
  ui.empty.hidden = true;
  ui.log.append(renderMessage(history.at(-2)));
  const node = renderMessage(answer);
  node.classList.add('streaming');
  node.setAttribute('aria-busy', 'true');
  ui.log.append(node);
  node.update();
  scrollDown(true);
  setBusy(true);
  announce('Answering…');

  // Redraws at most once a frame, however fast the pieces come.
  let pending = false;
  const redraw = () => {
    if (!pending) requestAnimationFrame(() => { pending = false; node.update(); scrollDown(); });
    pending = true;
  };
  controller = new AbortController();
  try {
    const res = await fetch('/v1/chat/completions', {
      method: 'POST', headers: headers(), signal: controller.signal,
      body: JSON.stringify({ model, messages, stream: true, stream_options: { include_usage: true } }),
    });
    if (!res.ok) throw await apiError(res);
    let finished = false;
    await readEvents(res, (data) => {
      if (data === '[DONE]') { finished = true; return false; }
      const chunk = JSON.parse(data);
      if (chunk.error) throw { message: chunk.error.message || 'The answer failed.' };
      if (Array.isArray(chunk.autbot?.sources)) answer.sources = chunk.autbot.sources;
      const piece = chunk.choices?.[0]?.delta?.content;
      if (piece) answer.content += piece;
      redraw();
      return true;
    });
    if (!finished) throw { message: 'The connection closed before the answer was complete.' };
    announce('Answer complete.');
  } catch (e) {
    if (e?.name === 'AbortError') {
      answer.stopped = true;
      announce('Stopped.');
    } else {
      const message = e instanceof TypeError ? `Could not reach the server (${e.message}).` : e?.message;
      answer.error = { message: message || String(e), auth: Boolean(e?.auth) };
    }
  } finally {
    controller = null;
    node.classList.remove('streaming');
    node.removeAttribute('aria-busy');
    node.update(true);
    setBusy(false);
    saveHistory();
    scrollDown();
  }
}

function setBusy(busy) {
  // Keep keyboard focus on a visible control when the buttons swap.
  const refocus = [ui.send, ui.stop, document.body].includes(document.activeElement);
  ui.send.hidden = busy;
  ui.stop.hidden = !busy;
  if (refocus) ui.question.focus();
}

function submit() {
  const question = ui.question.value.trim();
  if (!question || controller) return;
  ui.question.value = '';
  autoGrow();
  ask(question);
}

function retry() {
  if (controller || history.length < 2) return;
  const question = history.at(-2).content;
  history.splice(-2, 2);
  renderAll();
  ui.question.focus();
  ask(question);
}

// ---- Settings, theme, start-up ----

function openSettings() {
  ui.apiKey.value = apiKey();
  ui.settings.showModal();
  ui.apiKey.focus();
}

$('settings-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const key = ui.apiKey.value.trim();
  if (key) localStorage.setItem(API_KEY, key);
  else localStorage.removeItem(API_KEY);
  ui.settings.close();
  announce(key ? 'API key saved.' : 'API key removed.');
  loadModel();
});
$('settings-cancel').addEventListener('click', () => ui.settings.close());
$('open-settings').addEventListener('click', openSettings);

const THEMES = ['system', 'light', 'dark'];
function applyTheme(theme) {
  if (theme === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const label = ui.themeLabel.textContent = { system: 'Auto', light: 'Light', dark: 'Dark' }[theme];
  ui.theme.setAttribute('aria-label', `Theme: ${label}. Change theme`);
}
ui.theme.addEventListener('click', () => {
  const current = localStorage.getItem(THEME_KEY) || 'system';
  const next = THEMES[(THEMES.indexOf(current) + 1) % THEMES.length];
  if (next === 'system') localStorage.removeItem(THEME_KEY);
  else localStorage.setItem(THEME_KEY, next);
  applyTheme(next);
});

$('new-chat').addEventListener('click', () => {
  controller?.abort();
  history = [];
  saveHistory();
  renderAll();
  announce('New conversation.');
  ui.question.focus();
});

ui.form.addEventListener('submit', (e) => { e.preventDefault(); submit(); });
ui.stop.addEventListener('click', () => controller?.abort());
ui.question.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    submit();
  } else if (e.key === 'Escape' && controller) {
    controller.abort();
  }
});

// Browsers without `field-sizing: content` grow the box from script.
function autoGrow() {
  if (CSS.supports('field-sizing', 'content')) return;
  ui.question.style.height = 'auto';
  ui.question.style.height = `${Math.min(ui.question.scrollHeight, 200)}px`;
}
ui.question.addEventListener('input', autoGrow);

// Keeps a half-streamed answer when the page is closed or reloaded.
window.addEventListener('pagehide', () => {
  if (controller && history.at(-1)?.role === 'assistant') history.at(-1).stopped = true;
  saveHistory();
});

async function loadModel() {
  try {
    const res = await fetch('/v1/models', { headers: headers() });
    if (res.ok) model = (await res.json()).data?.[0]?.id || model;
  } catch { /* keep the default name */ }
}

applyTheme(localStorage.getItem(THEME_KEY) || 'system');
renderAll();
loadModel();
ui.question.focus();
