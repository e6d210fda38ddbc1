// Opens an approval link in Debian's headless Chromium (driven by playwright-core), reports what
// the page shows, presses one of its buttons, and reports the page that answers.
//
//   node tests/browser/decide.cjs <link> [approve|reject] [note]
//
// Prints one JSON line: {get: {status, title, buttons}, after: {status, title, heading, text}}.
// Exits 1 with a message on stderr when the browser cannot be started or the page is not as expected.
// CHROMIUM overrides the browser binary (default /usr/bin/chromium).
'use strict';

const path = require('path');
const fs = require('fs');
const os = require('os');

const { chromium } = require(path.join(__dirname, '..', '..', 'tools', 'node_modules', 'playwright-core'));

// This machine's closed network: no background traffic, no QUIC, no GPU, fresh profile (see
// ../shared/notes/environment.md); --no-sandbox because tests run as root.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

async function main() {
  const [link, action = 'approve', note = ''] = process.argv.slice(2);
  if (!link || !['approve', 'reject'].includes(action)) {
    throw new Error('usage: node decide.cjs <link> [approve|reject] [note]');
  }
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'approval-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    timeout: 60000,
  });
  try {
    const page = context.pages()[0] || (await context.newPage());
    const got = await page.goto(link, { waitUntil: 'load', timeout: 60000 });
    const get = {
      status: got.status(),
      title: await page.title(),
      buttons: await page.$$eval('button[type=submit]', (bs) => bs.map((b) => b.id)),
    };
    if (note) {
      await page.fill(`#${action}-form textarea[name=note]`, note);
    }
    const [answer] = await Promise.all([
      page.waitForNavigation({ waitUntil: 'load', timeout: 60000 }),
      page.click(`#${action}`),
    ]);
    const after = {
      status: answer ? answer.status() : null,
      title: await page.title(),
      heading: await page.textContent('h1'),
      text: (await page.textContent('body')).replace(/\s+/g, ' ').trim(),
    };
    process.stdout.write(JSON.stringify({ get, after }) + '\n');
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((e) => {
  process.stderr.write(`decide.cjs: ${e && e.message ? e.message : e}\n`);
  process.exit(1);
});
