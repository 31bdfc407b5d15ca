// Browser tests of the scimd web UI (issue 8). Starts the real scimd binary on a free port with
// a fresh SQLite file, drives Debian's chromium through playwright-core as a person would, and
// checks every page for console errors and (axe-core) serious/critical accessibility
// violations, at desktop and phone widths. Prints "N passed, M failed"; exits 1 on failure.
//
// Environment: SCIMD_BIN (default: $CARGO_TARGET_DIR or ../../target, then debug/scimd),
// CHROMIUM (default /usr/bin/chromium).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import AxeBuilder from '@axe-core/playwright';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const BIN = process.env.SCIMD_BIN || join(process.env.CARGO_TARGET_DIR || join(repo, 'target'), 'debug', 'scimd');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SHOTS = join(here, 'screenshots');
const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } };

let passed = 0;
let failed = 0;
const problems = [];

async function step(name, fn) {
  const t0 = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    failed += 1;
    console.log(`FAIL ${name}\n     ${(e && e.stack) || e}`);
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }
function eq(a, b, msg) { if (a !== b) throw new Error(`${msg}: expected ${JSON.stringify(b)}, got ${JSON.stringify(a)}`); }
// Polls `ok` until it holds. `ok` reads the page through locators, which Playwright runs over
// the protocol; Playwright's in-page predicate polling needs eval once its first look fails,
// which the UI's Content-Security-Policy (no 'unsafe-eval') refuses on a slow machine.
async function until(what, ok, ms = 15000) {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function freePort() {
  return new Promise((ok, bad) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => ok(port)); });
    s.on('error', bad);
  });
}

/**
 * Starts scimd; resolves with {proc, base, password} once it answers /healthz. With
 * `adminPort`, an `[admin]` listener serves the UI there (issue 20 item 2): `base` stays the
 * public listener and `ui` is the admin one (else `ui` is `base`).
 */
async function startScimd({ adminPort, env = {} } = {}) {
  assert(existsSync(BIN), `scimd binary not found at ${BIN}; build it first (cargo build)`);
  const dir = mkdtempSync(join(tmpdir(), 'scimd-ui-'));
  const port = await freePort();
  const admin = adminPort ? { SCIMD_ADMIN__PORT: String(adminPort) } : {};
  // The suite creates 1,000 users as fast as it can: without the new-install rate limit
  // (50 per second per token; tested in tests/it/secure_defaults.rs).
  const unlimited = { SCIMD_LIMITS__REQUESTS_PER_SECOND: '0' };
  const proc = spawn(BIN, ['serve'], {
    cwd: dir,
    env: { ...process.env, SCIMD_CONFIG: '/dev/null', SCIMD_ADDRESS: '127.0.0.1', SCIMD_PORT: String(port), SCIMD_DATABASE: join(dir, 'scimd.db'), SCIMD_CLIENT_IP_HEADER: 'X-Real-IP', SCIMD_WEBHOOKS__ALLOW_HTTP: 'true', RUST_LOG: 'warn', ...unlimited, ...admin, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  proc.stdout.on('data', () => {});
  const base = `http://127.0.0.1:${port}`;
  const ui = adminPort ? `http://127.0.0.1:${adminPort}` : base;
  for (let i = 0; i < 200; i += 1) {
    if (proc.exitCode !== null) throw new Error(`scimd exited early (${proc.exitCode}):\n${stderr}`);
    // The first admin password is in a 0600 file beside the database, never on stderr.
    const passwordFile = join(dir, 'scimd-initial-admin-password');
    if (existsSync(passwordFile)) {
      try {
        const r = await fetch(`${base}/healthz`);
        const u = adminPort ? await fetch(`${ui}/ui/instance.json`) : r;
        if (r.ok && u.ok) return { proc, base, ui, password: readFileSync(passwordFile, 'utf8').trim(), dir };
      } catch { /* not listening yet */ }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill();
  throw new Error(`scimd did not start:\n${stderr}`);
}

// Network 4xx answers the UI expects and handles show up in Chromium's console as "Failed to
// load resource"; these are allowed, anything else (and every console.error / page error) fails.
const EXPECTED_STATUS = [
  [/\/api\/session$/, [401, 429]], // the sign-in probe before login, wrong passwords, the rate limit
  [/\/api\/tenants\/[^/]+\/extensions(\/|$)/, [400, 409]], // declarations refused on purpose
  [/\/api\/tenants\/[^/]+\/oauth-clients$/, [400]], // Okta's redirect URI placeholder, refused on purpose
];
function watch(page, label) {
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const url = (m.location() && m.location().url) || '';
    const status = Number((text.match(/status of (\d{3})/) || [])[1]);
    const allowed = status && EXPECTED_STATUS.some(([re, codes]) => re.test(url) && codes.includes(status));
    if (!allowed) errors.push(`console.error: ${text} ${url}`);
  });
  page.__errors = errors;
  page.__label = label;
  return page;
}

const checkedPages = [];
/** Screenshot + axe at this viewport; records console errors seen so far. */
async function inspect(page, name) {
  await page.waitForLoadState('networkidle').catch(() => {});
  await page.waitForTimeout(150);
  const vp = page.viewportSize();
  const width = vp.width >= 1000 ? 'desktop' : 'phone';
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
  const axe = await new AxeBuilder({ page }).analyze();
  const bad = axe.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  if (bad.length) {
    problems.push(`${name} (${width}): axe ${bad.map((v) => `${v.id} [${v.impact}] ${v.nodes.slice(0, 3).map((n) => `${n.target.join(' ')} ${(n.any[0] || n.all[0] || {}).message || ''}`).join(' | ')}`).join('; ')}`);
  }
  if (page.__errors.length) problems.push(`${name} (${width}): ${page.__errors.splice(0).join('\n  ')}`);
  checkedPages.push(`${name}-${width}`);
}

async function scim(base, token, method, path, body, headers = {}) {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json', Accept: 'application/scim+json', ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, requestId: r.headers.get('x-request-id') };
}

async function main() {
  const { proc, base, password, dir } = await startScimd();
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync'],
  });
  const ctx = await browser.newContext({ viewport: VIEWPORTS.desktop, baseURL: base });
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  const page = watch(await ctx.newPage(), 'main');
  const phoneCtx = await browser.newContext({ viewport: VIEWPORTS.phone, baseURL: base, isMobile: true, hasTouch: true });
  const phone = watch(await phoneCtx.newPage(), 'phone');
  const state = {};

  /** Visits `path` on the phone too (same server, its own session) for screenshot + axe. */
  const both = async (name, path) => {
    await inspect(page, name);
    await phone.goto(path);
    await phone.waitForSelector('main h1');
    await inspect(phone, name);
  };

  try {
    await step('security and cache headers: CSP, frame denial, ETag/304, immutable fingerprinted assets, SPA fallback', async () => {
      const r = await fetch(`${base}/`);
      eq(r.status, 200, 'GET /');
      const csp = r.headers.get('content-security-policy') || '';
      for (const d of ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"]) assert(csp.includes(d), `CSP lacks ${d}: ${csp}`);
      eq(r.headers.get('x-frame-options'), 'DENY', 'X-Frame-Options');
      eq(r.headers.get('cache-control'), 'no-cache', 'index Cache-Control');
      const etag = r.headers.get('etag');
      assert(etag, 'index has an ETag');
      const again = await fetch(`${base}/`, { headers: { 'If-None-Match': etag } });
      eq(again.status, 304, 'conditional GET /');
      const htmlText = await r.text();
      const js = htmlText.match(/src="(\/ui\/[0-9a-f]+\/app\.js)"/);
      assert(js, `index references a fingerprinted app.js: ${htmlText}`);
      const a = await fetch(`${base}${js[1]}`);
      eq(a.status, 200, 'app.js');
      assert((a.headers.get('content-type') || '').includes('javascript'), 'app.js content type');
      assert((a.headers.get('cache-control') || '').includes('immutable'), 'fingerprinted asset is immutable');
      const a304 = await fetch(`${base}${js[1]}`, { headers: { 'If-None-Match': a.headers.get('etag') } });
      eq(a304.status, 304, 'conditional asset GET');
      const spa = await fetch(`${base}/ui/t/default/users`);
      eq(spa.status, 200, 'SPA fallback under /ui');
      assert((spa.headers.get('content-type') || '').includes('text/html'), 'fallback is HTML');
      eq((await fetch(`${base}/ui/nope.js`)).status, 404, 'missing asset is 404, not the page');
    });

    await step('login: a wrong password is explained, the right one signs in', async () => {
      await page.goto('/');
      await page.waitForSelector('form.loginbox');
      await inspect(page, 'login');
      await phone.goto('/');
      await phone.waitForSelector('form.loginbox');
      await inspect(phone, 'login');
      await page.fill('#username', 'admin');
      await page.fill('#password', 'wrong-password');
      await page.click('button[type=submit]');
      const alert = await page.waitForSelector('#login-error');
      assert((await alert.textContent()).includes('wrong'), 'error names the wrong password');
      await inspect(page, 'login-error');
      await page.fill('#password', password);
      await page.click('button[type=submit]');
      await page.waitForSelector('main h1:text("Dashboard")');
      await page.waitForSelector('.tenantcard code');
      const url = await page.textContent('.tenantcard code');
      eq(url, `${base}/scim/v2`, 'default tenant SCIM base URL on the dashboard');
      await phone.fill('#password', password);
      await phone.click('button[type=submit]');
      await phone.waitForSelector('main h1:text("Dashboard")');
    });

    await step('login: the rate limit says how long to wait', async () => {
      const other = await browser.newContext({ baseURL: base, extraHTTPHeaders: { 'X-Real-IP': '203.0.113.7' } });
      const p = watch(await other.newPage(), 'ratelimit');
      await p.goto('/ui/login');
      await p.waitForSelector('form.loginbox');
      await p.fill('#username', 'nobody');
      let text = '';
      for (let i = 0; i < 8 && !text.includes('Try again in'); i += 1) {
        await p.fill('#password', `guess-${i}`);
        await p.click('button[type=submit]:not([disabled])');
        await p.waitForSelector('#login-error');
        await p.waitForSelector('button[type=submit]:text-is("Sign in")');
        text = (await p.textContent('#login-error')) || '';
      }
      assert(/Too many failed sign-ins.*Try again in (\d+ min )?\d+ s/.test(text), `rate-limit message with the wait: ${text}`);
      assert(await p.isDisabled('button[type=submit]'), 'sign-in is disabled while waiting');
      await inspect(p, 'login-ratelimit');
      await other.close();
    });

    await step('create a tenant', async () => {
      await page.click('nav[aria-label=Main] a:text("Tenants")');
      await page.waitForSelector('main h1:text("Tenants")');
      await page.fill('#tenant-slug', 'acme');
      await page.fill('#tenant-name', 'Acme Corp');
      await page.click('button:text("Create tenant")');
      await page.waitForSelector('.notice.ok:has-text("acme")');
      await page.waitForSelector(`td code:text("${base}/t/acme/scim/v2")`);
      await both('tenants', '/ui/tenants');
    });

    await step('create a token, copy it (clipboard), see the once-only warning', async () => {
      await page.selectOption('#tenant-select', 'acme');
      await page.click('nav[aria-label=Main] a:text("Tokens")');
      await page.waitForSelector('main h1:text("Tokens")');
      await page.waitForSelector('text=No tokens yet');
      await inspect(page, 'tokens-empty');
      await page.fill('#tok-name', 'okta-prod');
      await page.selectOption('#tok-exp', '30d');
      await page.click('button:text("Create token")');
      const secret = (await page.textContent('#token-secret')).trim();
      assert(secret.length > 20, 'the secret is shown');
      assert(await page.isVisible('text=This is the only time scimd shows this token'), 'once-only warning');
      await page.click('button:text("Copy token")');
      await page.waitForSelector('button:text("Copied")');
      const clip = await page.evaluate(() => navigator.clipboard.readText());
      eq(clip, secret, 'clipboard holds the token');
      state.token = clip;
      await page.waitForSelector('td:has-text("never used")');
      await inspect(page, 'tokens-secret');
      await page.click('button:text("I have stored it")');
      assert(!(await page.isVisible('#token-secret')), 'secret hidden afterwards');
      await both('tokens', '/ui/t/acme/tokens');
    });

    await step('a SCIM POST with that token appears under Users', async () => {
      const r = await scim(base, state.token, 'POST', '/t/acme/scim/v2/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'ada.lovelace@acme.test',
        name: { givenName: 'Ada', familyName: 'Lovelace' }, displayName: 'Ada Lovelace',
        emails: [{ value: 'ada.lovelace@acme.test', type: 'work', primary: true }], active: true,
      });
      eq(r.status, 201, 'SCIM create');
      state.adaId = r.body.id;
      await page.click('nav[aria-label=Main] a:text("Users")');
      await page.waitForSelector('main h1:text("Users")');
      await page.waitForSelector('a:text("ada.lovelace@acme.test")');
      await page.click('a:text("ada.lovelace@acme.test")');
      await page.waitForSelector('main h1:text("ada.lovelace@acme.test")');
      assert((await page.textContent('pre.json')).includes(state.adaId), 'SCIM JSON shows the id');
      await both('user-detail', `/ui/t/acme/users/${state.adaId}`);
    });

    await step('settings: declare an Entra custom extension, see errors, strict mode, the attributes on the user', async () => {
      const urn = 'urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User';
      await page.click('nav[aria-label=Main] a:text("Settings")');
      await page.waitForSelector('main h1:text("Settings")');
      await page.waitForSelector('text=This tenant declares no extensions.');
      await page.fill('#ext-schema', '{"id": ');
      await page.click('button:text("Declare extension")');
      await page.waitForSelector('.notice.error:has-text("The schema is not valid JSON")');
      await page.fill('#ext-schema', JSON.stringify({ id: urn, attributes: [{ name: 'badgeNumber', type: 'int' }] }));
      await page.click('button:text("Declare extension")');
      await page.waitForSelector('.notice.error:has-text("badgeNumber")');
      assert((await page.textContent('.notice.error')).includes('integer'), 'the error lists the types there are');
      await page.fill('#ext-schema', JSON.stringify({ id: urn, name: 'CustomExtension', attributes: [
        { name: 'costCenter', type: 'string', uniqueness: 'server' }, { name: 'badgeNumber', type: 'integer' }] }));
      await page.click('button:text("Declare extension")');
      await page.waitForSelector(`.notice.ok:has-text("Declared ${urn} for User: costCenter, badgeNumber")`);
      await page.waitForSelector(`tr:has(th:text("${urn}")) td:text("costCenter, badgeNumber")`);
      const saved = (r) => r.url().endsWith('/api/tenants/acme/settings') && r.request().method() === 'PATCH';
      await Promise.all([page.waitForResponse(saved), page.check('text=Strict: refuse attributes no schema of this tenant declares')]);
      await page.reload();
      await page.waitForSelector('main h1:text("Settings")');
      assert(await page.isChecked('text=Strict: refuse attributes no schema of this tenant declares'), 'strict stays on after a reload');
      await Promise.all([page.waitForResponse(saved), page.uncheck('text=Strict: refuse attributes no schema of this tenant declares')]);
      // Profile mode (issue 27): on, the tenant advertises the profile; off again for the
      // Entra-style path-less PATCH below.
      const profile = 'text=Profile mode: behave as the SCIM 2.0 Interoperability Profile requires';
      await Promise.all([page.waitForResponse(saved), page.check(profile)]);
      await page.reload();
      await page.waitForSelector('main h1:text("Settings")');
      assert(await page.isChecked(profile), 'profile mode stays on after a reload');
      const spc = await scim(base, state.token, 'GET', '/t/acme/scim/v2/ServiceProviderConfig');
      eq(spc.body.interopProfileConformant, true, `profile mode is advertised: ${JSON.stringify(spc.body)}`);
      await Promise.all([page.waitForResponse(saved), page.uncheck(profile)]);
      const passwords = 'text=Accept passwords the IdP sends (stored hashed, for LDAP binds)';
      assert(await page.isChecked(passwords), 'passwords are accepted by default');
      await Promise.all([page.waitForResponse(saved), page.uncheck(passwords)]);
      const refused = await scim(base, state.token, 'PATCH', `/t/acme/scim/v2/Users/${state.adaId}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', path: 'password', value: 'N3w-secret' }],
      });
      eq(refused.status, 400, `a password is refused: ${JSON.stringify(refused.body)}`);
      await Promise.all([page.waitForResponse(saved), page.check(passwords)]);
      // Authentication (IPSIE): OAuth only refuses the tenant's SCIM token, naming the setting.
      const oauthOnly = "text=OAuth only: refuse SCIM bearer tokens on this tenant's SCIM API";
      assert(!(await page.isChecked(oauthOnly)), 'SCIM tokens are taken by default');
      await Promise.all([page.waitForResponse(saved), page.check(oauthOnly)]);
      const bearerRefused = await scim(base, state.token, 'GET', '/t/acme/scim/v2/Users');
      eq(bearerRefused.status, 401, 'OAuth only refuses the SCIM token');
      assert(bearerRefused.body.detail.includes('require_oauth'), `the detail names the setting: ${bearerRefused.body.detail}`);
      await Promise.all([page.waitForResponse(saved), page.uncheck(oauthOnly)]);
      eq((await scim(base, state.token, 'GET', '/t/acme/scim/v2/Users')).status, 200, 'off again, the SCIM token works');
      const r = await scim(base, state.token, 'PATCH', `/t/acme/scim/v2/Users/${state.adaId}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'replace', value: { [`${urn}:costCenter`]: 'CC-7', [`${urn}:badgeNumber`]: 42 } }],
      });
      eq(r.status, 200, `Entra-style PATCH of the extension: ${JSON.stringify(r.body)}`);
      await page.goto(`/ui/t/acme/users/${state.adaId}`);
      await page.waitForSelector('main h2:text("Extension attributes")');
      await page.waitForSelector(`caption:text("${urn}")`);
      await page.waitForSelector('tr:has(th:text("costCenter")) td:text("CC-7")');
      await page.waitForSelector('tr:has(th:text("badgeNumber")) td:text("42")');
      await both('user-extension', `/ui/t/acme/users/${state.adaId}`);
      await page.goto('/ui/t/acme/settings');
      await page.click(`button[aria-label="Remove ${urn}"]`);
      await page.waitForSelector('.notice.error:has-text("1 User holds values")');
      await both('settings', '/ui/t/acme/settings');
    });

    await step('ldap: the values to paste, a service account with its secret shown once, the examples', async () => {
      await page.click('nav[aria-label=Main] a:text("LDAP")');
      await page.waitForSelector('main h1:text("LDAP")');
      await page.waitForSelector('text=The LDAP directory is off.');
      await page.waitForSelector('tr:has(th:text("Base DN")) code:text("dc=acme,dc=scimd")');
      await page.waitForSelector('tr:has(th:text("Users")) code:text("ou=people,dc=acme,dc=scimd")');
      await page.waitForSelector('text=No service accounts yet.');
      await page.fill('#l-name', 'gitlab');
      await page.click('button:text("Create service account")');
      await page.waitForSelector('h3:text("Service account “gitlab” — copy the secret now")');
      const secret = await page.textContent('.notice.secret .secretline code');
      assert(secret.startsWith('scimdldap_'), `the secret is shown: ${secret}`);
      await page.waitForSelector('.notice.secret code:text("cn=gitlab,ou=services,dc=acme,dc=scimd")');
      await page.waitForSelector('tr:has(th:has-text("gitlab")) td:has-text("never")');
      await page.click('button:text("I have stored it")');
      assert(!(await page.isVisible('.notice.secret')), 'the secret is gone once stored');
      await page.waitForSelector('h3:text("Grafana")');
      assert((await page.textContent('section[aria-labelledby=ex-sssd] pre')).includes('ldap_search_base = dc=acme,dc=scimd'), 'the sssd example names the base DN');
      await both('ldap', '/ui/t/acme/ldap');
      await page.click('button[aria-label="Remove gitlab"]');
      await page.waitForSelector('text=No service accounts yet.');
    });

    await step('create 1,000 users and a group of all of them over SCIM', async () => {
      const ids = [state.adaId];
      const names = [];
      for (let i = 1; i < 1000; i += 1) names.push(i);
      const worker = async () => {
        while (names.length) {
          const i = names.shift();
          const n = String(i).padStart(4, '0');
          const r = await scim(base, state.token, 'POST', '/t/acme/scim/v2/Users', {
            schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `user${n}@acme.test`,
            displayName: `User ${n}`, emails: [{ value: `user${n}@acme.test`, type: 'work', primary: true }], active: i % 10 !== 0,
          });
          if (r.status !== 201) throw new Error(`user ${n}: ${r.status} ${JSON.stringify(r.body)}`);
          ids.push(r.body.id);
        }
      };
      await Promise.all([1, 2, 3, 4, 5, 6].map(worker));
      const g = await scim(base, state.token, 'POST', '/t/acme/scim/v2/Groups', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Everyone', members: ids.map((value) => ({ value })),
      });
      eq(g.status, 201, 'group create');
      state.groupId = g.body.id;
      const eng = await scim(base, state.token, 'POST', '/t/acme/scim/v2/Groups', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'], displayName: 'Engineering', members: ids.slice(0, 3).map((value) => ({ value })) });
      eq(eng.status, 201, 'second group');
      state.engineeringId = eng.body.id;
    });

    await step('users: server-side search, sort and paging', async () => {
      await page.goto('/ui/t/acme/users');
      await page.waitForSelector('text=1,000 users');
      await page.waitForSelector('text=Users 1–25 of 1,000');
      await page.click('button:text("Next →")');
      await page.waitForSelector('text=Users 26–50 of 1,000');
      await page.fill('#search', 'user012');
      await page.waitForSelector('text=10 users matching “user012”');
      const rows = await page.$$eval('tbody tr th a', (as) => as.map((a) => a.textContent));
      eq(rows.length, 10, 'rows for user012*');
      assert(rows.every((r) => r.startsWith('user012')), `all rows match: ${rows}`);
      await page.selectOption('#order', 'descending');
      await page.waitForSelector('tbody tr:first-child th a:text-is("user0129@acme.test")');
      assert(page.url().includes('q=user012') && page.url().includes('sortOrder=descending'), 'search state is in the URL');
      await page.fill('#search', 'zzz-nobody');
      await page.waitForSelector('text=No users match');
      await inspect(page, 'users-empty-search');
      await page.goto('/ui/t/acme/users');
      await page.waitForSelector('text=Users 1–25 of 1,000');
      await both('users', '/ui/t/acme/users');
    });

    await step('groups: open the group of 1,000 members and page them', async () => {
      await page.click('nav[aria-label=Main] a:text("Groups")');
      await page.waitForSelector('a:text("Everyone")');
      await both('groups', '/ui/t/acme/groups');
      const t0 = Date.now();
      await page.click('a:text("Everyone")');
      await page.waitForSelector('nav[aria-label="Members pages"]:has-text("Members 1–100 of 1,000")');
      const opened = Date.now() - t0;
      assert(opened < 3000, `group of 1,000 opened in ${opened} ms`);
      eq(await page.locator('section[aria-labelledby=g-members] tbody tr').count(), 100, 'first page rows');
      const bottom = page.locator('nav[aria-label="Members pages"]');
      await bottom.locator('button:text("Next →")').click();
      await bottom.locator('text=Members 101–200 of 1,000').waitFor();
      await page.locator('nav[aria-label="Members pages, top"] button:text("Next →")').click();
      await bottom.locator('text=Members 201–300 of 1,000').waitFor();
      await bottom.locator('button:text("← Previous")').click();
      await bottom.locator('text=Members 101–200 of 1,000').waitFor();
      await both('group-detail', `/ui/t/acme/groups/${state.groupId}`);
    });

    await step('Okta setup guide: exact values, then the first request turns it green', async () => {
      await page.click('nav[aria-label=Main] a:text("Setup")');
      await page.waitForSelector('main h1:text("Set up Okta")');
      const readValues = () => page.$$eval('#setup-values > div', (ds) => Object.fromEntries(ds.map((d) => [d.querySelector('dt').textContent.trim(), (d.querySelector('dd code') || d.querySelector('dd .value') || d.querySelector('dd')).textContent.trim()])));
      await page.waitForSelector('#setup-values > div');
      const values = await readValues();
      eq(values['SCIM connector base URL'], `${base}/t/acme/scim/v2`, 'base URL');
      eq(values['Unique identifier field for users'], 'userName', 'unique identifier');
      eq(values['Authentication Mode'], 'HTTP Header', 'auth mode');
      assert(values['HTTP Header → Authorization'].includes('token from step 2'), 'token placeholder before a token exists');
      assert(await page.isVisible('td:text("name.givenName")'), 'attribute mappings are listed');
      // Issue 20, item 1: the guide says that a cloud IdP cannot use this loopback http URL.
      const warning = await page.textContent('.reachability');
      assert(warning.includes('127.0.0.1 is this machine’s loopback address'), `loopback warning: ${warning}`);
      assert(warning.includes('Entra ID requires https'), `http warning: ${warning}`);
      assert(warning.includes('public_url'), `the fix names public_url: ${warning}`);
      await page.waitForSelector('text=Waiting for the first request from Okta');
      await inspect(page, 'setup-okta-waiting');
      // Issue 20, item 11: only the values to paste have a copy button; the name suggested is free.
      eq(await page.locator('#setup-values button:has-text("Copy")').count(), 1, 'one copy button before the token exists (the base URL)');
      eq(await page.inputValue('#setup-tok-name'), 'okta-acme', 'suggested token name');
      await page.fill('#setup-tok-name', 'okta-guide');
      await page.click('button:text("Create token")');
      const secret = (await page.textContent('#token-secret')).trim();
      eq((await readValues())['HTTP Header → Authorization'], secret, 'the Authorization value is the new token');
      // Okta's "Test Connector Configuration" probe.
      const probe = await scim(base, secret, 'GET', '/t/acme/scim/v2/Users?startIndex=1&count=2', null, { 'User-Agent': 'Okta SCIM Client 1.0.0' });
      eq(probe.status, 200, 'Okta probe');
      await page.waitForSelector('text=First request from Okta received', { timeout: 60000 });
      await both('setup-okta', '/ui/t/acme/setup/okta');
      await page.goto('/ui/t/acme/setup/okta');
      await page.fill('#setup-tok-name', 'okta-acme');
      await page.click('button:text("Create token")');
      await page.waitForSelector('#token-secret');
      await page.goto('/ui/t/acme/setup/okta');
      await page.waitForSelector('#setup-tok-name');
      eq(await page.inputValue('#setup-tok-name'), 'okta-acme-2', 'a second visit suggests a name that is free');
      for (const idp of ['entra', 'onelogin', 'jumpcloud', 'google']) {
        await page.goto(`/ui/t/acme/setup/${idp}`);
        await page.waitForSelector('#setup-values');
        assert((await page.textContent('#setup-values')).includes(`${base}/t/acme/scim/v2`), `${idp} guide shows the base URL`);
        await inspect(page, `setup-${idp}`);
      }
    });

    await step('revoke the token: the next SCIM request fails; Activity shows it with its request id', async () => {
      await page.goto('/ui/t/acme/tokens');
      const row = page.locator('tr:has(th:has-text("okta-prod"))');
      await row.locator('button:text("Revoke…")').click();
      await row.locator('button:text("Revoke now")').click();
      await page.waitForSelector('tr:has(th:has-text("okta-prod")) .badge:text("revoked")');
      const r = await scim(base, state.token, 'GET', '/t/acme/scim/v2/Users?count=1');
      eq(r.status, 401, 'revoked token is refused');
      assert(/revoked/i.test(r.body.detail), `401 detail names the revocation: ${r.body.detail}`);
      await inspect(page, 'tokens-revoked');
      await page.click('nav[aria-label=Main] a:text("Activity")');
      await page.waitForSelector('main h1:text("Activity")');
      await page.selectOption('#f-status', 'errors');
      await page.waitForSelector('tbody a:has-text("GET /t/acme/scim/v2/Users")');
      await page.click('tbody tr:first-child a');
      await page.waitForSelector('.notice.diag');
      assert((await page.textContent('.detail')).includes('401'), 'detail shows the 401');
      // Issue 20, item 9: the response's X-Request-Id finds the entry, and its detail shows it.
      assert(r.requestId, 'the 401 carries an X-Request-Id');
      await page.fill('#f-reqid', r.requestId);
      await page.click('form.toolbar button:text("Apply")');
      await until('the request id to leave one entry', async () => (await page.locator('tbody tr').count()) === 1);
      await page.click('tbody tr:first-child a');
      await page.waitForSelector(`.detail dd:text("${r.requestId}")`);
      await both('activity', '/ui/t/acme/activity');
    });

    await step('Entra and Okta OAuth guides (issue 28): a client registered on the spot, the exact values, a token that works; Okta: sign in at the authorize URL, consent, land on the callback with a code; the Tokens page lists and revokes it', async () => {
      await page.goto('/ui/t/acme/setup/entra');
      await page.waitForSelector('#setup-auth');
      await page.check('input[name=setup-auth][value=oauth]');
      await page.waitForSelector('#setup-oauth-values > div');
      const read = () => page.$$eval('#setup-oauth-values > div', (ds) => Object.fromEntries(ds.map((d) => [d.querySelector('dt').textContent.trim(), (d.querySelector('dd code') || d.querySelector('dd')).textContent.trim()])));
      let v = await read();
      eq(v['Tenant URL'], `${base}/t/acme/scim/v2`, 'Entra OAuth: tenant URL');
      eq(v['Token Endpoint'], `${base}/t/acme/oauth/token`, 'Entra OAuth: token endpoint');
      assert(v['Client Secret'].includes('from the step above'), 'secret placeholder before a client exists');
      assert((await page.textContent('main')).includes('OAuth2 Client Credentials Grant'), 'names Entra\'s authentication method');
      await page.fill('#setup-oc-name', 'entra-oauth');
      await page.click('button:text("Register client")');
      await page.waitForSelector('#client-secret');
      v = await read();
      assert(v['Client Secret'].startsWith('scimcs_'), `the secret is shown: ${v['Client Secret']}`);
      assert(v['Client Identifier'].startsWith('scimd-'), `the client id is shown: ${v['Client Identifier']}`);
      await inspect(page, 'setup-entra-oauth');
      // Entra's token request (client_secret_post), then a SCIM call with the access token.
      const got = await fetch(`${base}/t/acme/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'client_credentials', client_id: v['Client Identifier'], client_secret: v['Client Secret'] }) });
      eq(got.status, 200, 'token request with the values shown');
      const access = (await got.json()).access_token;
      eq((await scim(base, access, 'GET', '/t/acme/scim/v2/Users?count=1')).status, 200, 'SCIM with the access token');
      await page.goto('/ui/t/acme/setup/okta');
      await page.check('input[name=setup-auth][value=oauth]');
      assert((await page.textContent('#okta-oauth')).includes('authorization code'), 'the Okta OAuth guide names the grant');
      await page.waitForSelector('#setup-oauth-values > div');
      let o = await read();
      eq(o['Authorization endpoint URI'], `${base}/t/acme/oauth/authorize`, 'Okta OAuth: authorization endpoint');
      eq(o['Access token endpoint URI'], `${base}/t/acme/oauth/token`, 'Okta OAuth: token endpoint');
      eq(o['SCIM connector base URL'], `${base}/t/acme/scim/v2`, 'Okta OAuth: base URL');
      // Okta's redirect URI holds the org and app names: left as the placeholder, it is refused.
      await page.fill('#setup-oc-name', 'okta-oauth');
      await page.click('button:text("Register client")');
      await page.waitForSelector('text=still holds a placeholder');
      // A tiny local server stands in for Okta's callback.
      const callbackServer = createHttpServer((req, res) => { res.writeHead(200, { 'Content-Type': 'text/html' }); res.end('<!doctype html><html lang="en"><title>Okta callback</title><h1>Okta callback</h1></html>'); });
      await new Promise((r) => callbackServer.listen(0, '127.0.0.1', r));
      const callback = `http://127.0.0.1:${callbackServer.address().port}/admin/app/cpc/scimd_1/oauth/callback`;
      try {
        await page.fill('#setup-oc-redirect', callback);
        await page.click('button:text("Register client")');
        await page.waitForSelector('#client-secret');
        o = await read();
        assert(o['Client ID'].startsWith('scimd-') && o['Client Secret'].startsWith('scimcs_'), `client id and secret shown: ${JSON.stringify(o)}`);
        await inspect(page, 'setup-okta-oauth');
        // "Authenticate with …": Okta opens the authorization endpoint in the admin's browser,
        // here one not signed in to scimd yet.
        const oktaCtx = await browser.newContext({ viewport: VIEWPORTS.desktop, baseURL: base });
        const admin = watch(await oktaCtx.newPage(), 'okta-authenticate');
        try {
          await admin.goto(`${base}/t/acme/oauth/authorize?response_type=code&client_id=${o['Client ID']}&redirect_uri=${encodeURIComponent(callback)}&state=okta-state-1&scope=scim`);
          await admin.waitForSelector('form.loginbox');
          eq(new URL(admin.url()).pathname, '/ui/consent', 'the sign-in form is shown at the consent page');
          await admin.fill('#username', 'admin');
          await admin.fill('#password', password);
          await admin.click('button[type=submit]');
          await admin.waitForSelector('#consent');
          const asked = await admin.textContent('#consent');
          assert(asked.includes('Allow “okta-oauth” to provision tenant “acme”?'), `the consent page names client and tenant: ${asked}`);
          assert(asked.includes('scim') && asked.includes(callback), `the consent page shows scope and redirect: ${asked}`);
          await inspect(admin, 'oauth-consent');
          await Promise.all([admin.waitForURL((u) => u.toString().startsWith(callback)), admin.click('button:text("Allow")')]);
          const landed = new URL(admin.url());
          eq(landed.searchParams.get('state'), 'okta-state-1', 'the state comes back');
          const code = landed.searchParams.get('code');
          assert(code && code.startsWith('scimac_'), `landed with a code: ${admin.url()}`);
          // Okta's token request (client_secret_basic), then SCIM with the access token.
          const basic = Buffer.from(`${o['Client ID']}:${o['Client Secret']}`).toString('base64');
          const tok = await fetch(`${base}/t/acme/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Authorization: `Basic ${basic}` }, body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: callback }) });
          eq(tok.status, 200, 'the code is exchanged');
          const tj = await tok.json();
          assert(tj.refresh_token && tj.refresh_token.startsWith('scimrt_'), 'a refresh token comes with it');
          eq((await scim(base, tj.access_token, 'GET', '/t/acme/scim/v2/Users?count=1')).status, 200, 'SCIM with the code grant\'s access token');
          // Deny sends access_denied back.
          await admin.goto(`${base}/t/acme/oauth/authorize?response_type=code&client_id=${o['Client ID']}&redirect_uri=${encodeURIComponent(callback)}&state=okta-state-2`);
          await admin.waitForSelector('#consent');
          await Promise.all([admin.waitForURL((u) => u.toString().startsWith(callback)), admin.click('button:text("Deny")')]);
          eq(new URL(admin.url()).searchParams.get('error'), 'access_denied', 'Deny answers access_denied');
        } finally {
          await oktaCtx.close();
        }
      } finally {
        callbackServer.close();
      }
      await page.goto('/ui/t/acme/tokens');
      const row = page.locator('tr:has(th:has-text("entra-oauth"))');
      await row.waitFor();
      eq((await page.textContent('#oauth-endpoints')).includes(`${base}/t/acme/oauth/token`), true, 'the Tokens page shows the token endpoint');
      await page.fill('#iss-name', 'corp-idp');
      await page.fill('#iss-issuer', 'https://idp.example');
      await page.fill('#iss-jwks', 'https://idp.example/jwks.json');
      await page.click('button:text("Trust issuer")');
      await page.waitForSelector('section[aria-labelledby=oauth-issuers] th:text("corp-idp")');
      await inspect(page, 'tokens-oauth');
      await page.click('button[aria-label="Remove corp-idp"]');
      await page.waitForSelector('section[aria-labelledby=oauth-issuers] th:text("corp-idp")', { state: 'detached' });
      await row.locator('button:text("Revoke…")').click();
      await row.locator('button:text("Revoke now")').click();
      await page.waitForSelector('tr:has(th:has-text("entra-oauth")) .badge:text("revoked")');
      const after = await scim(base, access, 'GET', '/t/acme/scim/v2/Users?count=1');
      eq(after.status, 401, 'a revoked client\'s token is refused');
      assert(after.body.detail.includes('was revoked'), `401 detail: ${after.body.detail}`);
    });

    await step('dashboard: base URL per tenant, token status, health per IdP', async () => {
      await page.click('nav[aria-label=Main] a:text("Dashboard")');
      const acme = page.locator('section.tenantcard:has(h2:has-text("Acme Corp"))');
      await acme.locator(`code:text("${base}/t/acme/scim/v2")`).waitFor();
      await acme.locator('text=Okta').first().waitFor();
      assert((await acme.locator('.reachability').textContent()).includes('cannot reach it'), 'the dashboard warns about the loopback base URL');
      await acme.locator('button:has-text("Copy")').first().click();
      eq(await page.evaluate(() => navigator.clipboard.readText()), `${base}/t/acme/scim/v2`, 'copied base URL');
      await both('dashboard', '/ui/dashboard');
    });

    await step('dashboard: the last scimd doctor report, with the fix of each open check', async () => {
      await page.goto('/ui/dashboard');
      await page.locator('section.doctor:has-text("Never run")').waitFor();
      // The admin runs the command on the server, beside the running scimd.
      const run = spawnSync(BIN, ['doctor'], { cwd: dir, env: { ...process.env, SCIMD_CONFIG: '/dev/null', SCIMD_DATABASE: join(dir, 'scimd.db'), SCIMD_PORT: new URL(base).port, RUST_LOG: 'warn' }, encoding: 'utf8' });
      eq(run.status, 0, `scimd doctor passes with warnings only: ${run.stdout}${run.stderr}`);
      await page.reload();
      const card = page.locator('section.doctor');
      await card.locator('text=passed with warnings').waitFor();
      const text = await card.textContent();
      assert(text.includes('scimd doctor ran'), `the card says when it ran: ${text}`);
      assert(/backup.*no backup has been taken.*Fix: run `?scimd backup/s.test(text) || text.includes('scimd backup /var/backups'), `the missing backup and its fix are shown: ${text}`);
      await inspect(page, 'dashboard-doctor');
    });

    await step('dashboard states, Activity and history from real traffic', async () => {
      // Two more integrations, created as an admin would, then driven by real SCIM requests.
      const newToken = async (name) => {
        await page.goto('/ui/t/acme/tokens');
        await page.waitForSelector('main h1:text("Tokens")');
        await page.fill('#tok-name', name);
        await page.click('button:text("Create token")');
        const secret = (await page.textContent('#token-secret')).trim();
        await page.click('button:text("I have stored it")');
        return secret;
      };
      // A script whose every attempt is refused: its token is used on the wrong tenant.
      const script = await newToken('new-script');
      for (let i = 0; i < 2; i += 1) {
        eq((await scim(base, script, 'GET', '/scim/v2/Users?count=1', null, { 'User-Agent': 'python-requests/2.31.0' })).status, 401, 'wrong tenant');
      }
      // curl: one failure first, then 17 successes: 5.6 % errors is "degraded", not "failing".
      const curl = await newToken('curl-test');
      const asCurl = { 'User-Agent': 'curl/8.5.0' };
      eq((await scim(base, curl, 'GET', '/t/acme/scim/v2/Users/no-such-user', null, asCurl)).status, 404, 'curl 404');
      for (let i = 0; i < 14; i += 1) {
        eq((await scim(base, curl, 'GET', '/t/acme/scim/v2/Users?count=1', null, asCurl)).status, 200, 'curl list');
      }
      // A member of Engineering is deleted: the group's history says so.
      const leaver = (await scim(base, curl, 'GET', `/t/acme/scim/v2/Groups/${state.engineeringId}`, null, asCurl)).body.members
        .map((m) => m.value).find((v) => v !== state.adaId);
      eq((await scim(base, curl, 'DELETE', `/t/acme/scim/v2/Users/${leaver}`, null, asCurl)).status, 204, 'delete a member');
      state.leaverId = leaver;
      eq((await scim(base, curl, 'GET', '/t/acme/scim/v2/Users?count=1', null, asCurl)).status, 200, 'curl list');

      // The request log is written in the background: reload until the dashboard shows it all.
      const card = page.locator('section.tenantcard:has(h2:has-text("Acme Corp"))');
      let stats = '';
      const logged = async () => stats.includes('only refused') && (await card.locator('.health li:has-text("curl-test")').count()) > 0
        && (await card.locator('.health li:has-text("curl-test")').textContent()).includes('5.6% errors');
      for (let i = 0; i < 50 && !(await logged()); i += 1) {
        await page.goto('/ui/dashboard');
        await card.locator('.stats').waitFor();
        await page.waitForTimeout(200);
        stats = await card.locator('.stats').textContent();
      }
      // Issue 20, item 6: states follow the numbers; a token only ever refused is not "never
      // used"; a client that is no known IdP is named from its User-Agent.
      await page.waitForSelector('.failures :text("Revoked token")');
      await card.locator('.health li:has-text("okta-prod") :text("failing")').waitFor();
      const curlRow = card.locator('.health li:has-text("curl-test")');
      await curlRow.locator(':text("degraded")').waitFor();
      const curlText = await curlRow.textContent();
      assert(curlText.includes('client curl'), `curl is named from its User-Agent: ${curlText}`);
      assert(curlText.includes('5.6% errors in 24 h'), `1 failure in 18 requests: ${curlText}`);
      const statLine = async (label) => card.locator(`.stats li:has-text("${label}")`).textContent();
      const refusedLine = await statLine('only refused');
      assert(refusedLine.includes('1 only refused') && refusedLine.includes('new-script'), `a refused attempt is an attempt: ${refusedLine}`);
      assert(!refusedLine.includes('curl-test'), `a token with a success is not only refused: ${refusedLine}`);
      const neverLine = await statLine('never used');
      assert(neverLine.includes('okta-acme') && !neverLine.includes('new-script') && !neverLine.includes('curl-test'), `only the unused token is never used: ${neverLine}`);
      await inspect(page, 'dashboard-traffic');

      // Activity: the curl token's failures, then the entry with its diagnosis and response.
      await page.goto('/ui/t/acme/activity');
      await page.waitForSelector('tbody a:has-text("GET /t/acme/scim/v2/Users")');
      await page.selectOption('#f-token', { label: 'curl-test' });
      await page.selectOption('#f-status', 'errors');
      await page.waitForSelector('text=Requests 1–1 of 1');
      await page.click('tbody tr:first-child a');
      await page.waitForSelector('.notice.diag h3:text("Resource does not exist")');
      assert((await page.textContent('.detail')).includes('no-such-user'), 'response body shown');
      await inspect(page, 'activity-entry');

      // History reads as a person reads it (issue 20, item 11).
      await page.goto(`/ui/t/acme/users/${state.adaId}`);
      await page.waitForSelector('.history :text("displayName")');
      const userHistory = await page.textContent('.history');
      assert(userHistory.includes('Ada Lovelace') && !userHistory.includes('"Ada Lovelace"'), `text without JSON quotes: ${userHistory}`);
      assert(userHistory.includes('ada.lovelace@acme.test (work, primary)'), `a multi-valued attribute as its values: ${userHistory}`);
      await page.goto(`/ui/t/acme/groups/${state.engineeringId}`);
      await page.waitForSelector('.history');
      await until('the history to show the implicit removal', async () => ((await page.textContent('.history')) || '').includes(`removed 1 member: ${leaver} (deleted)`));
      await inspect(page, 'group-history');
    });

    await step('events: an events token reads the feed; the Events page shows what applications see', async () => {
      await page.goto('/ui/t/acme/tokens');
      await page.fill('#tok-name', 'hr-app');
      await page.selectOption('#tok-access', 'events');
      await page.click('button:text("Create token")');
      const reader = (await page.textContent('#token-secret')).trim();
      await page.click('button:text("I have stored it")');
      await page.waitForSelector('tr:has(th:has-text("hr-app")) .badge:text("events feed")');
      const feed = await fetch(`${base}/t/acme/events?types=user.created&limit=1`, { headers: { Authorization: `Bearer ${reader}` } });
      eq(feed.status, 200, 'the events token reads the feed');
      const first = (await feed.json()).events[0];
      eq(first.resource.userName, 'ada.lovelace@acme.test', 'the first user created');
      eq((await scim(base, reader, 'GET', '/t/acme/scim/v2/Users')).status, 403, 'an events token cannot read SCIM');
      await page.click('nav[aria-label=Main] a:text("Events")');
      await page.waitForSelector('main h1:text("Events")');
      // Newest first: the user deleted in the previous step, with no link to a page it no longer has.
      const top = page.locator('tbody tr').first();
      await top.locator('.badge:text("user.deleted")').waitFor();
      await page.selectOption('#ev-type', 'user.created');
      await until('only user.created rows', async () => (await page.locator('tbody .badge').allTextContents()).every((t) => t === 'user.created')
        && (await page.locator('tbody tr').count()) > 0);
      await page.fill('#ev-resource', state.adaId);
      await page.click('form.toolbar button:text("Apply")');
      await until('one row', async () => (await page.locator('tbody tr').count()) === 1);
      const row = page.locator('tbody tr').first();
      assert((await row.textContent()).includes('ada.lovelace@acme.test'), 'Ada\'s creation');
      await row.locator('button:text("JSON")').click();
      const json = await row.locator('pre.json').textContent();
      assert(json.includes('"type": "user.created"') && json.includes('"token_name": "okta-prod"'), `the event as served: ${json}`);
      await inspect(page, 'events');
      await row.locator(`a:text("ada.lovelace@acme.test")`).click();
      await page.waitForSelector('main h1:text("ada.lovelace@acme.test")');
      await both('events', '/ui/t/acme/events');
    });

    await step('webhooks: add an endpoint (secret once), send a test event, last deliveries, rotate, disable shows on the dashboard, replay', async () => {
      const received = [];
      const receiver = createHttpServer((req, res) => {
        let body = '';
        req.on('data', (c) => { body += c; });
        req.on('end', () => { received.push({ headers: req.headers, body }); res.writeHead(204); res.end(); });
      });
      await new Promise((ok) => receiver.listen(0, '127.0.0.1', ok));
      const url = `http://127.0.0.1:${receiver.address().port}/hook`;
      try {
        await page.click('nav[aria-label=Main] a:text("Webhooks")');
        await page.waitForSelector('main h1:text("Webhooks")');
        await page.waitForSelector('text=No webhooks yet.');
        await page.fill('#wh-url', url);
        await page.fill('#wh-types', 'user.created, user.deleted');
        await page.click('button:text("Add webhook")');
        const secret = (await page.textContent('#webhook-secret')).trim();
        assert(secret.startsWith('whsec_'), `a Standard Webhooks secret: ${secret}`);
        assert((await page.textContent('.notice.secret')).includes('only time scimd shows this secret'), 'the once-only warning');
        await page.click('button:text("I have stored it")');
        const row = page.locator(`tr:has(th:has-text("${url}"))`);
        await row.locator('.badge:text("active")').waitFor();
        assert((await row.textContent()).includes('user.created, user.deleted'), 'the type filter is shown');
        await inspect(page, 'webhooks');
        await row.locator('button:text("Send test event")').click();
        await row.locator('[role=status]:has-text("Test event delivered: HTTP 204")').waitFor();
        eq(received.length, 1, 'the receiver got the test event');
        assert(received[0].headers['webhook-signature'].startsWith('v1,'), 'signed');
        eq(JSON.parse(received[0].body).type, 'webhook.test', 'a test event');
        await row.locator('button:text("Last deliveries")').click();
        await row.locator('table .badge:text("HTTP 204")').waitFor();
        await row.locator('button:text("Rotate secret…")').click();
        await row.locator('button:text("Rotate now")').click();
        const rotated = (await page.textContent('#webhook-secret')).trim();
        assert(rotated.startsWith('whsec_') && rotated !== secret, 'a new secret');
        assert((await page.textContent('.notice.secret')).includes('previous secret keeps signing'), 'the overlap is explained');
        await page.click('button:text("I have stored it")');
        await row.locator('button:text("Disable")').click();
        await row.locator('.badge:text("disabled")').waitFor();
        await page.click('nav[aria-label=Main] a:text("Dashboard")');
        const alert = page.locator('.tenantcard:has(h2:has-text("acme")) [role=alert]:has-text("Webhooks need attention")');
        await alert.waitFor();
        assert((await alert.textContent()).includes('disabled by an admin'), 'the reason is on the dashboard');
        await alert.locator('a:text("Open Webhooks")').click();
        await page.waitForSelector('main h1:text("Webhooks")');
        await row.locator('button:text("Replay…")').click();
        await row.locator('button:text("Replay now")').click();
        await row.locator('.badge:text("active")').waitFor();
        await both('webhooks', '/ui/t/acme/webhooks');
      } finally {
        receiver.close();
      }
    });

    await step('issue 25: the Deleted page restores a deleted user; a mass-change alarm is reverted from the dashboard', async () => {
      await page.goto('/ui/t/acme/users');
      await page.click('nav[aria-label=Main] a:text("Deleted")');
      await page.waitForSelector('main h1:text("Deleted")');
      const row = page.locator('tbody tr', { hasText: state.leaverId });
      await row.locator('button:text("Restore")').waitFor();
      assert((await row.textContent()).includes('okta-prod') || (await row.textContent()).includes('curl'), `who deleted it: ${await row.textContent()}`);
      await inspect(page, 'deleted');
      await row.locator('button:text("Restore")').click();
      await page.waitForSelector('p[role=status]:has-text("Restored user")');
      await page.waitForSelector(`tbody tr:has-text("${state.leaverId}")`, { state: 'detached' });
      const cli = (...args) => spawnSync(BIN, args, { encoding: 'utf8', env: { ...process.env, SCIMD_CONFIG: '/dev/null', SCIMD_DATABASE: join(dir, 'scimd.db') } });
      const token = cli('token', 'create', '--tenant', 'acme', '--name', 'okta-deletions').stdout.trim();
      eq((await scim(base, token, 'GET', `/t/acme/scim/v2/Users/${state.leaverId}`)).status, 200, 'the restored user is back in SCIM');

      // A privacy erase, confirmed first.
      const gone = await scim(base, token, 'POST', '/t/acme/scim/v2/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'erase.me@acme.test' });
      eq((await scim(base, token, 'DELETE', `/t/acme/scim/v2/Users/${gone.body.id}`)).status, 204, 'deleted');
      await page.reload();
      const doomed = page.locator('tbody tr', { hasText: 'erase.me@acme.test' });
      await doomed.locator('button:text("Erase…")').click();
      await doomed.locator('text=cannot be restored afterwards').waitFor();
      await doomed.locator('button:text("Erase now")').click();
      await page.waitForSelector(`p[role=status]:has-text("Erased user ${gone.body.id}")`);
      await page.waitForSelector('tbody tr:has-text("erase.me@acme.test")', { state: 'detached' });

      // A burst of deactivations over the tenant's threshold (lowered for the test).
      eq(cli('tenant', 'set', 'acme', 'alarm_threshold=2').status, 0, 'lower the threshold');
      const burst = [];
      for (const n of ['burst.one', 'burst.two']) {
        const made = await scim(base, token, 'POST', '/t/acme/scim/v2/Users', { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: `${n}@acme.test`, active: true });
        eq(made.status, 201, 'create');
        burst.push(made.body.id);
      }
      for (const id of burst) {
        const off = await scim(base, token, 'PATCH', `/t/acme/scim/v2/Users/${id}`, { schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'replace', path: 'active', value: false }] });
        eq(off.status, 200, 'SCIM answers a deactivation as always');
      }
      let seen = false;
      for (let i = 0; i < 50 && !seen; i += 1) {
        await page.goto('/ui/dashboard');
        await page.waitForSelector('main h1:text("Dashboard")');
        await page.waitForTimeout(300);
        seen = await page.isVisible('.notice.alarm h3:has-text("Mass change in “acme”")');
      }
      assert(seen, 'the dashboard shows the alarm');
      const alarm = page.locator('.notice.alarm', { hasText: 'acme' });
      assert((await alarm.textContent()).includes('2 deactivations'), `the alarm says what happened: ${await alarm.textContent()}`);
      await inspect(page, 'dashboard-alarm');
      await alarm.locator('button:text("Revert this burst")').click();
      await page.waitForSelector('[role=status]:has-text("Reverted: 0 restored, 2 reactivated")');
      for (const id of burst) {
        eq((await scim(base, token, 'GET', `/t/acme/scim/v2/Users/${id}`)).body.active, true, 'reactivated');
      }
      // The Settings page shows and changes the thresholds.
      await page.goto('/ui/t/acme/settings');
      await page.waitForSelector('main h2:text("Deleted users and groups")');
      eq(await page.inputValue('#s-threshold'), '2', 'the threshold set from the CLI');
      await page.fill('#s-threshold', '100');
      await page.fill('#s-retention', '45');
      await page.click('section:has(#s-deletion) button:text("Save")');
      let saved = {};
      for (let i = 0; i < 50 && saved.alarm_threshold !== 100; i += 1) {
        await page.waitForTimeout(100);
        saved = JSON.parse(cli('tenant', 'show', 'acme', '--json').stdout);
      }
      eq(saved.alarm_threshold, 100, 'saved threshold');
      eq(saved.tombstone_retention_days, 45, 'saved retention');
    });

    await step('issue 21: an Entra integration\'s quirk profile and ignored attributes, as a person reads them', async () => {
      await page.goto('/ui/t/acme/tokens');
      await page.fill('#tok-name', 'entra-prod');
      await page.click('button:text("Create token")');
      const secret = (await page.textContent('#token-secret')).trim();
      await page.click('button:text("I have stored it")');
      const entra = { 'User-Agent': 'Microsoft.AAD.Provisioning' };
      const patched = await scim(base, secret, 'PATCH', `/t/acme/scim/v2/Users/${state.adaId}`, {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'], Operations: [{ op: 'Replace', path: 'active', value: 'True' }],
      }, entra);
      eq(patched.status, 200, 'Entra PATCH with a string boolean is accepted');
      const created = await scim(base, secret, 'POST', '/t/acme/scim/v2/Users', {
        schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'grace@acme.test', costCentre: 'CC-7',
      }, entra);
      eq(created.status, 201, 'an undeclared attribute does not fail the create');
      assert(!('costCentre' in created.body), 'the answer is the user as stored, without it');
      // The log is written in the background (batches within a quarter second).
      const card = page.locator('section.tenantcard:has(h2:has-text("Acme Corp")) .health li:has-text("entra-prod")');
      let text = '';
      for (let i = 0; i < 20 && !text.includes('string booleans'); i += 1) {
        await page.goto('/ui/dashboard');
        await page.locator('section.tenantcard:has(h2:has-text("Acme Corp")) h3:text("Recent failures")').waitFor();
        await page.waitForLoadState('networkidle').catch(() => {});
        text = (await card.count()) ? await card.textContent() : '';
        if (!text.includes('string booleans')) await page.waitForTimeout(250);
      }
      assert(text.includes('This Microsoft Entra ID integration sends string booleans (accepted)'), `quirk line: ${text}`);
      assert(text.includes('This Microsoft Entra ID integration sends capitalised PATCH operation names (accepted)'), `quirk line: ${text}`);
      assert(/string booleans \(accepted\) · 1 request · first seen .+ · last seen /.test(text), `first and last seen: ${text}`);
      assert(text.includes('1 ignored attribute in 1 request: costCentre.'), `ignored count: ${text}`);
      assert(text.includes('fix the attribute mapping in Microsoft Entra ID or declare an extension'), `the fix: ${text}`);
      await inspect(page, 'dashboard-quirks');
      await page.goto('/ui/t/acme/activity');
      const row = page.locator('tbody tr:has(a:has-text("POST /t/acme/scim/v2/Users"))').first();
      await row.locator('text=Undeclared attributes ignored').waitFor();
      await row.locator('a').click();
      await page.waitForSelector('.notice.diag h3:text("Undeclared attributes ignored")');
      const detail = await page.textContent('.detail');
      assert(detail.includes('Microsoft Entra ID sent `costCentre`, which no schema of this tenant defines'), `diagnosis: ${detail}`);
      assert(detail.includes('Ignored attributescostCentre (no schema of this tenant defines it; not stored)'), `ignored on the entry: ${detail}`);
      assert(detail.includes('attributes no schema defines (ignored)'), `the quirk on the entry: ${detail}`);
      await inspect(page, 'activity-ignored');
    });


    await step('keyboard: skip link and main navigation are reachable with Tab', async () => {
      await page.goto('/ui/t/acme/users');
      await page.waitForSelector('main h1');
      await page.keyboard.press('Tab');
      eq(await page.evaluate(() => document.activeElement.textContent), 'Skip to content', 'first Tab stop');
      await page.keyboard.press('Enter');
      await page.keyboard.press('Tab');
      const inMain = await page.evaluate(() => !!document.activeElement.closest('main'));
      assert(inMain, 'after the skip link focus moves into main');
    });

    await step('dark mode renders with its own palette', async () => {
      const dark = await browser.newContext({ viewport: VIEWPORTS.desktop, baseURL: base, colorScheme: 'dark' });
      const p = watch(await dark.newPage(), 'dark');
      await p.goto('/');
      await p.fill('#password', password);
      await p.click('button[type=submit]');
      await p.waitForSelector('main h1:text("Dashboard")');
      const bg = await p.evaluate(() => getComputedStyle(document.body).backgroundColor);
      eq(bg, 'rgb(18, 22, 28)', 'dark background');
      await p.goto('/ui/t/acme/tokens');
      await p.waitForSelector('table');
      await inspect(p, 'tokens-dark');
      await dark.close();
    });

    await step('with [admin], the UI is on the admin port and its Setup page shows the public SCIM URL', async () => {
      const split = await startScimd({ adminPort: await freePort() });
      const adminCtx = await browser.newContext({ viewport: VIEWPORTS.desktop, baseURL: split.ui });
      try {
        // The public port answers the UI's paths with a plain not-found, no sign-in page.
        const hidden = await fetch(`${split.base}/`);
        eq(hidden.status, 404, 'GET / on the public port');
        assert(!(await hidden.text()).includes('<html'), 'no page on the public port');
        const p = watch(await adminCtx.newPage(), 'admin-listener');
        await p.goto('/');
        await p.fill('#password', split.password);
        await p.click('button[type=submit]');
        await p.waitForSelector('main h1:text("Dashboard")');
        await p.goto('/ui/t/default/setup/okta');
        await p.waitForSelector('#setup-values > div');
        const values = await p.$$eval('#setup-values > div', (ds) => Object.fromEntries(ds.map((d) => [d.querySelector('dt').textContent.trim(), (d.querySelector('dd code') || d.querySelector('dd .value') || d.querySelector('dd')).textContent.trim()])));
        eq(values['SCIM connector base URL'], `${split.base}/scim/v2`, 'the public listener\'s base URL, not the admin one');
        await inspect(p, 'setup-okta-admin-listener');
      } finally {
        await adminCtx.close().catch(() => {});
        split.proc.kill('SIGTERM');
        rmSync(split.dir, { recursive: true, force: true });
      }
    });

    // Issue 27 part 2: secure defaults as an admin sees them.
    await step('secure defaults: a new token expires in 1 year unless Never is chosen; an address allowlist refuses elsewhere, and is changed in place', async () => {
      await page.goto('/ui/t/acme/tokens');
      await page.waitForSelector('main h1:text("Tokens")');
      await until('the form to preselect 1 year', async () => (await page.inputValue('#tok-exp')) === '365d');
      eq(await page.$eval('#tok-exp', (s) => s.options[s.selectedIndex].textContent), '1 year', 'the preselected lifetime');
      await page.fill('#tok-name', 'entra-fenced');
      await page.fill('#tok-from', '198.51.100.0/24');
      await page.click('button:text("Create token")');
      const secret = (await page.textContent('#token-secret')).trim();
      await page.click('button:text("I have stored it")');
      const row = 'tr:has(th:has-text("entra-fenced"))';
      await page.waitForSelector(`${row} td:has-text("198.51.100.0/24")`);
      assert(!(await page.textContent(`${row} td[data-label=Expires]`)).includes('never'), 'the token expires');
      const refused = await scim(base, secret, 'GET', '/t/acme/scim/v2/Users', null, { 'X-Real-IP': '203.0.113.9' });
      eq(refused.status, 403, 'a request from outside the list');
      assert(refused.body.detail.includes('entra-fenced') && refused.body.detail.includes('203.0.113.9'), `the detail names the token and the address: ${refused.body.detail}`);
      await page.click('button[aria-label="Change addresses of entra-fenced"]');
      await page.fill(`${row} input`, '203.0.113.0/24, 198.51.100.0/24');
      await page.click('button:text("Save addresses")');
      await page.waitForSelector(`${row} td:has-text("203.0.113.0/24, 198.51.100.0/24")`);
      eq((await scim(base, secret, 'GET', '/t/acme/scim/v2/Users', null, { 'X-Real-IP': '203.0.113.9' })).status, 200, 'allowed once the range is added');
      await inspect(page, 'tokens-allowlist');
      await page.goto('/');
      await page.waitForSelector('main h1:text("Dashboard")');
      await page.waitForSelector('.diag:has-text("Token used from an address it is not allowed from")');
      assert(!(await page.isVisible('text=Configuration warnings')), 'no configuration warning on loopback');
    });

    await step('secure defaults: the dashboard shows plain HTTP beyond loopback and a clamped max_results, with the fixes', async () => {
      const open = await startScimd({ env: { SCIMD_ADDRESS: '0.0.0.0', SCIMD_LIMITS__MAX_RESULTS: '50' } });
      const openCtx = await browser.newContext({ viewport: VIEWPORTS.desktop, baseURL: open.base });
      try {
        const p = watch(await openCtx.newPage(), 'plain-http');
        await p.goto('/');
        await p.fill('#password', open.password);
        await p.click('button[type=submit]');
        await p.waitForSelector('main h1:text("Dashboard")');
        const card = 'section:has(h2:text("Configuration warnings"))';
        await p.waitForSelector(`${card} li:has-text("serves plain HTTP beyond loopback and is not behind TLS")`);
        await p.waitForSelector(`${card} li:has-text("limits.max_results = 50 is below 100")`);
        assert((await p.textContent(card)).includes('Fix: set [tls] certs and key'), 'the fix is shown');
        await inspect(p, 'dashboard-config-warnings');
      } finally {
        await openCtx.close().catch(() => {});
        open.proc.kill('SIGTERM');
        rmSync(open.dir, { recursive: true, force: true });
      }
    });

    await step('no console errors and no serious/critical axe violations on any page', async () => {
      if (page.__errors.length) problems.push(`final: ${page.__errors.join('; ')}`);
      assert(problems.length === 0, `${problems.length} problem(s):\n  ${problems.join('\n  ')}`);
      console.log(`     checked ${checkedPages.length} page views: ${checkedPages.join(', ')}`);
    });
  } finally {
    await browser.close().catch(() => {});
    proc.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { failed += 1; console.log(`FAIL setup: ${(e && e.stack) || e}`); }).finally(() => {
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});
