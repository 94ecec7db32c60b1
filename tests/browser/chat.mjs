// Browser tests of the built-in chat page, in headless Chromium (Debian's package)
// driven by playwright-core. tests/e2e/chat_page.rs starts the real server and a fake
// streaming model, then runs:
//
//   node tests/browser/chat.mjs <base_url> <screenshot_dir>
//
// Optional environment: CHAT_EXPECT_TITLE (the configured page title),
// CHAT_EXPECT_REPLY (the model's whole answer), CHAT_LONG_QUESTION_CHARS (a question
// this long is refused by the server), CHROMIUM (default /usr/bin/chromium).
// Prints one line per check; exits 1 at the first failure, with the page's console.

import { chromium } from 'playwright-core';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';

const [base, shots] = process.argv.slice(2);
if (!base || !shots) {
  console.error('usage: node tests/browser/chat.mjs <base_url> <screenshot_dir>');
  process.exit(2);
}
const expectTitle = process.env.CHAT_EXPECT_TITLE;
const expectReply = process.env.CHAT_EXPECT_REPLY;
const longChars = Number(process.env.CHAT_LONG_QUESTION_CHARS || 2100);
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
  + "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
const squash = (s) => s.replace(/\s+/g, ' ').trim();

mkdirSync(shots, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), 'autbot-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  // Without the background-networking flags Chromium's own connections fail on a
  // closed network; QUIC and the sandbox are off for containers.
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 800 },
  colorScheme: 'light',
  reducedMotion: 'reduce',
  timeout: 60_000,
});
context.setDefaultTimeout(30_000);
await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });

const page = context.pages()[0] ?? await context.newPage();
const consoleLines = [];
const problems = [];
// Responses the tests provoke on purpose (Chromium logs each as a console error).
const expectedStatus = /status of (401|422)/;
page.on('console', (m) => {
  consoleLines.push(`${m.type()}: ${m.text()}`);
  if (m.type() === 'error' && !expectedStatus.test(m.text())) problems.push(`console: ${m.text()}`);
});
page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
// CSP violations are also reported as console errors; this catches them by event too.
await page.addInitScript(() => {
  document.addEventListener('securitypolicyviolation', (e) => {
    console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`);
  });
});
// Every chat request the page sends, with its body and headers.
const chatRequests = [];
page.on('request', (r) => {
  if (r.url().endsWith('/v1/chat/completions')) {
    chatRequests.push({ body: r.postDataJSON(), auth: r.headers().authorization });
  }
});

let passed = 0;
async function check(name, fn) {
  try {
    await fn();
    passed += 1;
    console.log(`ok - ${name}`);
  } catch (e) {
    console.log(`not ok - ${name}\n${e.stack || e}`);
    console.log(`--- page console ---\n${consoleLines.join('\n')}`);
    await page.screenshot({ path: join(shots, 'failure.png'), fullPage: true }).catch(() => {});
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    console.log(`${passed} passed, 1 failed`);
    process.exit(1);
  }
}

const answers = page.locator('.msg.bot');
const lastAnswer = () => answers.last();
const lastBody = () => lastAnswer().locator('.body');
const idle = () => page.waitForSelector('.msg.bot.streaming', { state: 'detached' });

// The conversation as the page keeps it in localStorage.
const stored = () => page.evaluate(() => JSON.parse(localStorage.getItem('autbot.chat.history')));

// Waits until `cond()` holds (for events seen on the Node side).
async function until(cond, ms = 10_000) {
  for (const end = Date.now() + ms; !cond(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${cond}`);
  }
}

// Types a question with the keyboard and sends it with Enter.
async function ask(question) {
  await page.focus('#question');
  await page.keyboard.type(question, { delay: 0 });
  await page.keyboard.press('Enter');
}

await check('the page and its assets carry the security headers', async () => {
  const res = await page.goto(`${base}/`, { waitUntil: 'load' });
  assert.equal(res.status(), 200);
  const h = res.headers();
  assert.match(h['content-type'], /^text\/html/);
  assert.equal(h['content-security-policy'], CSP);
  assert.equal(h['x-frame-options'], 'DENY');
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['referrer-policy'], 'no-referrer');
  for (const [path, type] of [['chat.js', /^text\/javascript/], ['chat.css', /^text\/css/]]) {
    const url = await page.getAttribute(path.endsWith('js') ? 'script' : 'link[rel=stylesheet]',
      path.endsWith('js') ? 'src' : 'href');
    assert.match(url, new RegExp(`^/chat/${path}\\?v=`));
    const asset = await page.request.get(base + url);
    assert.equal(asset.status(), 200);
    assert.match(asset.headers()['content-type'], type);
    assert.equal(asset.headers()['x-content-type-options'], 'nosniff');
    assert.match(asset.headers()['cache-control'], /immutable/);
  }
});

await check('the page loads without console errors or CSP violations', async () => {
  await page.waitForLoadState('networkidle');
  assert.deepEqual(problems, []);
  if (expectTitle) {
    assert.equal(await page.title(), expectTitle);
    assert.equal(await page.textContent('h1'), expectTitle);
  }
  assert.equal(await page.evaluate(() => document.activeElement.id), 'question');
  assert.ok(await page.isVisible('#empty'));
  // Labelled controls and live regions for screen readers.
  assert.equal(await page.getByLabel('Your question').count(), 1);
  for (const name of ['Send', 'New chat', /^Theme: Auto/, 'API key']) {
    assert.equal(await page.getByRole('button', { name }).count(), 1, String(name));
  }
  assert.equal(await page.locator('[role=log]').count(), 1);
  assert.equal(await page.getAttribute('#status', 'aria-live'), 'polite');
  await page.screenshot({ path: join(shots, 'empty.png') });
});

await check('Shift+Enter adds a line, Enter sends', async () => {
  await page.focus('#question');
  await page.keyboard.type('first line');
  await page.keyboard.press('Shift+Enter');
  await page.keyboard.type('second line');
  assert.equal(await page.inputValue('#question'), 'first line\nsecond line');
  assert.equal(chatRequests.length, 0);
  await page.fill('#question', '');
});

let firstAnswer = '';
await check('the answer streams in and shows its sources', async () => {
  await ask('Which port does the server listen on?');
  assert.equal(await page.inputValue('#question'), '');
  // Part of the answer is on screen while the stream is still open.
  const partial = await page.waitForFunction(() => {
    const body = document.querySelector('.msg.bot.streaming .body');
    return body && body.textContent.trim().length > 0 && body.textContent;
  }).then((h) => h.jsonValue());
  assert.ok(await page.isVisible('#stop'), 'the stop button shows while streaming');
  await idle();
  firstAnswer = squash(await lastBody().textContent());
  assert.ok(firstAnswer.length > squash(partial).length, `"${partial}" then "${firstAnswer}"`);
  assert.ok(firstAnswer.startsWith(squash(partial).slice(0, 10)), `"${partial}" vs "${firstAnswer}"`);
  if (expectReply) assert.equal(firstAnswer, squash(expectReply.replace(/[*`]/g, '')));
  assert.ok(await page.isVisible('#send'));
  assert.ok(await page.isHidden('#stop'));
  const sources = await lastAnswer().locator('.source').evaluateAll((items) => items.map((li) => ({
    name: li.querySelector('.source-name')?.textContent,
    heading: li.querySelector('.source-heading')?.textContent,
    score: li.querySelector('.score')?.textContent,
  })));
  assert.ok(sources.length > 0, 'at least one source');
  for (const s of sources) {
    assert.ok(s.name, JSON.stringify(s));
    assert.match(s.score, /^score -?\d+\.\d\d$/, JSON.stringify(s));
  }
  assert.ok(sources.some((s) => s.heading), JSON.stringify(sources));
  // A source opens to show its passage.
  const first = lastAnswer().locator('.source').first();
  if (await first.locator('summary').count()) {
    await first.locator('summary').click();
    assert.ok((await first.locator('.source-text').textContent()).trim().length > 0);
  }
  assert.equal(chatRequests.at(-1).body.stream, true);
  assert.equal(chatRequests.at(-1).body.model, 'autbot');
});

await check('a follow-up question sends the earlier turns', async () => {
  await ask('And how do I change it?');
  await idle();
  const { messages } = chatRequests.at(-1).body;
  assert.deepEqual(messages.map((m) => m.role), ['user', 'assistant', 'user']);
  assert.equal(messages[0].content, 'Which port does the server listen on?');
  assert.equal(messages[1].content, (await stored())[1].content);
  if (expectReply) assert.equal(messages[1].content, expectReply);
  assert.equal(messages[2].content, 'And how do I change it?');
  assert.equal(await answers.count(), 2);
  // The view followed the answer to its end.
  const gap = await page.$eval('#main', (m) => m.scrollHeight - m.scrollTop - m.clientHeight);
  assert.ok(gap < 2, `${gap}px below the view`);
});

await check('desktop screenshots, light and dark', async () => {
  await page.focus('#question');
  await page.screenshot({ path: join(shots, 'desktop-light.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  const dark = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(dark, 'rgb(15, 17, 22)');
  await page.screenshot({ path: join(shots, 'desktop-dark.png') });
  // The toggle goes system → light → dark → system and wins over the system setting.
  await page.click('#theme');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'light');
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor),
    'rgb(246, 247, 249)');
  await page.click('#theme');
  await page.click('#theme');
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), undefined);
  await page.emulateMedia({ colorScheme: 'light' });
});

await check('the copy button copies the answer', async () => {
  await lastAnswer().getByRole('button', { name: 'Copy' }).click();
  await page.waitForFunction(() => [...document.querySelectorAll('.msg.bot button')]
    .some((b) => b.textContent === 'Copied'));
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, (await stored()).at(-1).content);
});

await check('keyboard focus is visible', async () => {
  await page.focus('#question');
  await page.keyboard.press('Tab');
  const focused = await page.evaluate(() => {
    const el = document.activeElement;
    return { id: el.id, outline: getComputedStyle(el).outlineStyle };
  });
  assert.equal(focused.id, 'send');
  assert.notEqual(focused.outline, 'none');
});

await check('reloading the page keeps the conversation', async () => {
  const shown = () => page.locator('.msg .bubble, .msg .body, .msg .source').allTextContents();
  const before = await shown();
  assert.equal(before.filter((t) => t).length > 4, true, JSON.stringify(before));
  await page.reload({ waitUntil: 'networkidle' });
  assert.deepEqual(await shown(), before);
  assert.ok(await page.isHidden('#empty'));
});

await check('a question the server refuses shows its error text', async () => {
  const refused = page.waitForResponse((r) => r.url().endsWith('/v1/chat/completions'));
  await page.fill('#question', 'Why? '.repeat(Math.ceil(longChars / 5)));
  await page.press('#question', 'Enter');
  const res = await refused;
  assert.equal(res.status(), 422);
  const { error } = await res.json();
  assert.ok(error.message, JSON.stringify(error));
  await idle();
  const shown = await lastAnswer().locator('.error[role=alert]').textContent();
  assert.ok(shown.includes(error.message), `shown "${shown}", sent "${error.message}"`);
  await page.screenshot({ path: join(shots, 'error.png') });
});

await check('retry asks the last question again', async () => {
  const count = chatRequests.length;
  await lastAnswer().getByRole('button', { name: 'Retry' }).click();
  await until(() => chatRequests.length === count + 1);
  await idle();
  assert.deepEqual(chatRequests.at(-1).body.messages, chatRequests.at(-2).body.messages);
  assert.equal(await answers.count(), 3, 'the retried answer replaced the failed one');
  // Only the last answer offers Retry.
  assert.equal(await page.locator('.msg.bot .retry:visible').count(), 1);
});

await check('the stop button ends a streaming answer', async () => {
  await ask('Tell me everything about the configuration.');
  await page.waitForFunction(() => document.querySelector('.msg.bot.streaming .body')
    ?.textContent.trim().length > 0);
  await page.screenshot({ path: join(shots, 'streaming.png') });
  await page.click('#stop');
  await idle();
  const text = await lastBody().textContent();
  assert.equal(await lastAnswer().locator('.note').textContent(), 'Stopped.');
  assert.ok(await page.isVisible('#send'));
  await page.waitForTimeout(600);
  assert.equal(await lastBody().textContent(), text, 'no text arrives after stopping');
  if (expectReply) assert.ok(squash(text).length < squash(expectReply).length, text);
  // The page is ready for the next question, with focus still in the box.
  assert.equal(await page.evaluate(() => document.activeElement.id), 'question');
});

await check('a 401 leads to the API key field, and the key is sent', async () => {
  await page.route('**/v1/chat/completions', (route) => route.fulfill({
    status: 401,
    contentType: 'application/json',
    body: JSON.stringify({ error: { message: 'a client key is required', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }),
  }), { times: 1 });
  await ask('Is a key needed?');
  await idle();
  assert.match(await lastAnswer().locator('.error').textContent(), /a client key is required/);
  await lastAnswer().getByRole('button', { name: 'Enter an API key' }).click();
  assert.ok(await page.isVisible('dialog#settings'));
  assert.equal(await page.evaluate(() => document.activeElement.id), 'api-key');
  await page.keyboard.type('sk-browser-test');
  await page.screenshot({ path: join(shots, 'settings.png') });
  await page.keyboard.press('Enter');
  assert.ok(await page.isHidden('dialog#settings'));
  const count = chatRequests.length;
  await lastAnswer().getByRole('button', { name: 'Retry' }).click();
  await until(() => chatRequests.length === count + 1);
  await idle();
  assert.equal(chatRequests.at(-1).auth, 'Bearer sk-browser-test');
  assert.equal(await lastAnswer().locator('.error').count(), 0, 'the server accepts the key');
  // Remove it again: the server under test may not know this key.
  await page.click('#open-settings');
  await page.fill('#api-key', '');
  await page.keyboard.press('Enter');
  assert.equal(await page.evaluate(() => localStorage.getItem('autbot.chat.apiKey')), null);
});

await check('on a phone-sized screen nothing overflows', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.reload({ waitUntil: 'networkidle' });
  const { scroll, width } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth, width: window.innerWidth,
  }));
  assert.ok(scroll <= width, `page is ${scroll}px wide in a ${width}px window`);
  for (const id of ['question', 'send', 'new-chat', 'theme', 'open-settings']) {
    const box = await page.locator(`#${id}`).boundingBox();
    assert.ok(box && box.x >= 0 && box.x + box.width <= width, `#${id} ${JSON.stringify(box)}`);
  }
  await page.screenshot({ path: join(shots, 'phone.png') });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: join(shots, 'phone-dark.png') });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.setViewportSize({ width: 1280, height: 800 });
});

await check('New chat clears the conversation', async () => {
  await page.click('#new-chat');
  assert.equal(await page.locator('.msg').count(), 0);
  assert.ok(await page.isVisible('#empty'));
  await page.reload({ waitUntil: 'networkidle' });
  assert.equal(await page.locator('.msg').count(), 0);
});

await check('no unexpected console errors or CSP violations in the whole run', async () => {
  assert.deepEqual(problems, []);
});

await context.close();
rmSync(profile, { recursive: true, force: true });
console.log(`${passed} passed, 0 failed`);
