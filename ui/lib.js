// Shared pieces of the scimd UI: the admin API client, the router, time formatting and small
// components (copy button, pager, status messages). No build step: plain ES modules.
import { h, render, Fragment } from './vendor/preact.module.js';
import { useState, useEffect, useRef, useCallback, useMemo } from './vendor/hooks.module.js';
import htm from './vendor/htm.module.js';

export const html = htm.bind(h);
export { render, Fragment, useState, useEffect, useRef, useCallback, useMemo };

// ---------------------------------------------------------------- admin API client

/** An admin API failure: HTTP status, the API's `{error, detail}` body and Retry-After. */
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super((body && body.detail) || `the server answered HTTP ${status}`);
    this.status = status;
    this.error = body && body.error;
    this.retryAfter = retryAfter ? Number(retryAfter) : null;
  }
}

let csrfToken = '';
let onSignedOut = () => {};
export function setCsrf(t) { csrfToken = t || ''; }
export function setSignedOutHandler(f) { onSignedOut = f; }

/** Calls the admin API; state-changing calls carry the session's CSRF token. */
export async function api(method, path, body) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken;
  const res = await fetch(path, {
    method, headers, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = { detail: text }; }
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/session') onSignedOut();
    throw new ApiError(res.status, data, res.headers.get('Retry-After'));
  }
  return data;
}

export const enc = encodeURIComponent;
export function qs(params) {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, v);
  const s = p.toString();
  return s ? `?${s}` : '';
}

/** Loads `fn()` when `deps` change: `{data, error, loading, reload}`. */
export function useLoad(fn, deps) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true, error: null }));
    fn().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => { live = false; };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

// ---------------------------------------------------------------- router

const listeners = new Set();
export function navigate(to, replace = false) {
  if (to === location.pathname + location.search) return;
  if (replace) history.replaceState(null, '', to); else history.pushState(null, '', to);
  listeners.forEach((f) => f());
}
export function useLocation() {
  const [loc, setLoc] = useState(location.pathname + location.search);
  useEffect(() => {
    const f = () => setLoc(location.pathname + location.search);
    listeners.add(f);
    window.addEventListener('popstate', f);
    return () => { listeners.delete(f); window.removeEventListener('popstate', f); };
  }, []);
  return loc;
}
// Same-origin links under /ui are handled by the router (no reload); modified clicks still
// open new tabs as usual.
document.addEventListener('click', (e) => {
  const a = e.target.closest && e.target.closest('a[href]');
  if (!a || (a.getAttribute('href') || '').startsWith('#')) return;
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || !(url.pathname === '/' || url.pathname.startsWith('/ui'))) return;
  if (a.target || a.hasAttribute('download')) return;
  e.preventDefault();
  navigate(url.pathname + url.search);
});

export function tenantPath(slug, page = '') {
  return `/ui/t/${enc(slug)}${page ? `/${page}` : ''}`;
}

// ---------------------------------------------------------------- time

const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const rel = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const UNITS = [['year', 31536000], ['month', 2592000], ['week', 604800], ['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];

export function relative(iso, now = Date.now()) {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const secs = Math.round((t - now) / 1000);
  if (Math.abs(secs) < 10) return 'just now';
  for (const [unit, size] of UNITS) {
    if (Math.abs(secs) >= size || unit === 'second') return rel.format(Math.round(secs / size), unit);
  }
  return '';
}

/** A time in the browser's zone with a relative hint: "Nov 23, 2026, 5:06 PM (3 minutes ago)". */
export function Time({ iso, empty = '—' }) {
  if (!iso) return html`<span class="muted">${empty}</span>`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return html`<span>${iso}</span>`;
  return html`<time datetime=${iso} title=${d.toISOString()}>${fullFmt.format(d)} <span class="muted">(${relative(iso)})</span></time>`;
}

/** "14 min 58 s" for a wait in seconds. */
export function duration(secs) {
  const m = Math.floor(secs / 60);
  const s = secs % 60;
  if (m >= 60) return `${Math.floor(m / 60)} h ${m % 60} min`;
  return m ? `${m} min ${s} s` : `${s} s`;
}

export function daysUntil(iso) {
  return (Date.parse(iso) - Date.now()) / 86400000;
}

// ---------------------------------------------------------------- components

let announcer = null;
/** Says `msg` to screen readers through a polite live region. */
export function announce(msg) {
  if (!announcer) {
    announcer = document.createElement('div');
    announcer.className = 'sr-only';
    announcer.setAttribute('aria-live', 'polite');
    announcer.setAttribute('role', 'status');
    document.body.appendChild(announcer);
  }
  announcer.textContent = '';
  setTimeout(() => { announcer.textContent = msg; }, 50);
}

export function CopyButton({ text, label = 'Copy', name }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard permission (plain HTTP on a remote host): select the value instead.
      const sel = window.getSelection();
      const node = document.querySelector(`[data-copy-source="${CSS.escape(text)}"]`);
      if (node && sel) { const r = document.createRange(); r.selectNodeContents(node); sel.removeAllRanges(); sel.addRange(r); }
    }
    setDone(true);
    announce('Copied to the clipboard');
    setTimeout(() => setDone(false), 2000);
  };
  return html`<button type="button" class="btn small" onClick=${copy} aria-label=${name || label}>${done ? 'Copied ✓' : label}</button>`;
}

/** A value to paste into an IdP, with its copy button. */
export function CopyField({ value, label }) {
  return html`<span class="copyfield"><code data-copy-source=${value}>${value}</code><${CopyButton} text=${value} name=${label ? `Copy ${label}` : 'Copy'} /></span>`;
}

export function ErrorBox({ error, title = 'Something went wrong' }) {
  if (!error) return null;
  return html`<div class="notice error" role="alert"><strong>${title}.</strong> ${error.message || String(error)}</div>`;
}

export function Loading({ what = 'Loading' }) {
  return html`<p class="loading" role="status"><span class="spinner" aria-hidden="true"></span>${what}…</p>`;
}

export function Empty({ title, children }) {
  return html`<div class="empty"><p class="empty-title">${title}</p>${children}</div>`;
}

/** Previous/next paging over a SCIM ListResponse (1-based startIndex). */
export function Pager({ total, start, count, onPage, label, busy, nav }) {
  if (!total) return null;
  const first = start;
  const last = Math.min(start + count - 1, total);
  const fmt = (n) => n.toLocaleString();
  return html`<nav class="pager" aria-label=${nav || `${label} pages`}>
    <button type="button" class="btn" disabled=${busy || start <= 1} onClick=${() => onPage(Math.max(1, start - count))}>← Previous</button>
    <span aria-live=${nav ? undefined : 'polite'}>${label} ${fmt(first)}–${fmt(last)} of ${fmt(total)}</span>
    <button type="button" class="btn" disabled=${busy || last >= total} onClick=${() => onPage(start + count)}>Next →</button>
  </nav>`;
}

export function Badge({ kind = 'neutral', children }) {
  return html`<span class=${`badge ${kind}`}>${children}</span>`;
}

/** A horizontally scrollable table wrapper that keyboard users can scroll too. */
export function TableWrap({ label, children }) {
  return html`<div class="tablewrap" role="region" aria-label=${label} tabindex="0">${children}</div>`;
}

/** Moves focus to the page heading after navigation, so screen readers announce the page. */
export function PageTitle({ children, sub }) {
  const ref = useRef(null);
  useEffect(() => {
    const text = ref.current && ref.current.textContent;
    if (text) document.title = `${text} · scimd`;
    if (ref.current && document.activeElement !== ref.current && window.__scimdNavigated) ref.current.focus();
  }, [typeof children === 'string' ? children : '']);
  return html`<header class="pagehead"><h1 tabindex="-1" ref=${ref}>${children}</h1>${sub ? html`<p class="muted">${sub}</p>` : null}</header>`;
}

// ---------------------------------------------------------------- IdPs

export const IDPS = [
  { id: 'okta', name: 'Okta' },
  { id: 'entra', name: 'Microsoft Entra ID' },
  { id: 'onelogin', name: 'OneLogin' },
  { id: 'jumpcloud', name: 'JumpCloud' },
  { id: 'google', name: 'Google Workspace' },
];

/** Which IdP a User-Agent (or token name) suggests, for when the request log has no entry. */
export function guessIdp(text) {
  const s = (text || '').toLowerCase();
  if (s.includes('okta')) return 'okta';
  if (s.includes('entra') || s.includes('azure') || s.includes('aad') || s.includes('microsoft')) return 'entra';
  if (s.includes('onelogin')) return 'onelogin';
  if (s.includes('jumpcloud')) return 'jumpcloud';
  if (s.includes('google')) return 'google';
  return null;
}
export function idpName(id) {
  return (IDPS.find((i) => i.id === id) || { name: id || 'other' }).name;
}

/** What an integration sends, for "this … integration sends string booleans (accepted)"; the
 * ignored-attributes quirk's label says "(ignored)" itself. */
export function quirkPhrase(q) {
  return q.id === 'ignored_attributes' ? q.label : `${q.label} (accepted)`;
}

// ---------------------------------------------------------------- instance

let instanceP = null;
/** `/ui/instance.json`: the origin IdPs must use (public_url, else this host). */
export function instance() {
  if (!instanceP) instanceP = fetch('/ui/instance.json').then((r) => r.json()).catch(() => ({ origin: location.origin }));
  return instanceP;
}
export function scimBase(origin, slug) {
  return slug === 'default' ? `${origin}/scim/v2` : `${origin}/t/${slug}/scim/v2`;
}

/** Why a cloud IdP may not reach `base`: a list of { title, fix } (empty when nothing is
 * known to be wrong). Loopback and private addresses are unreachable from Okta's and Entra's
 * services; plain http is refused by Entra and sends the token in clear everywhere else. */
export function reachabilityProblems(base) {
  let url;
  try { url = new URL(base); } catch { return []; }
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const problems = [];
  const v4 = host.match(/^(\d+)\.(\d+)\.\d+\.\d+$/);
  const loopback = host === 'localhost' || host.endsWith('.localhost') || host === '::1' || (v4 && v4[1] === '127');
  const privateV4 = v4 && (v4[1] === '10' || (v4[1] === '172' && +v4[2] >= 16 && +v4[2] <= 31) || (v4[1] === '192' && v4[2] === '168') || (v4[1] === '169' && v4[2] === '254') || (v4[1] === '100' && +v4[2] >= 64 && +v4[2] <= 127));
  const privateV6 = /^(fc|fd|fe8|fe9|fea|feb)/.test(host) && host.includes(':');
  const privateName = !host.includes('.') || /\.(local|lan|internal|home\.arpa|corp)$/.test(host);
  const see = 'See “Make it reachable” in the README.';
  if (loopback) {
    problems.push({ title: `${host} is this machine’s loopback address: Okta, Entra ID and the other cloud IdPs cannot reach it.`, fix: `Set public_url to the https:// address the IdP reaches (a reverse proxy, or scimd’s own [tls] on a public address); for a trial, a tunnel. ${see}` });
  } else if (privateV4 || privateV6 || privateName) {
    problems.push({ title: `${host} is a private address or name: a cloud IdP cannot reach it from the internet.`, fix: `Publish scimd through a reverse proxy or tunnel with a public name, and set public_url to that https:// address. ${see}` });
  }
  if (url.protocol === 'http:') {
    problems.push({ title: 'The base URL is plain http: Entra ID requires https, and every IdP would send its token unencrypted.', fix: `Serve TLS ([tls] in scimd.toml) or put scimd behind a TLS proxy, and set public_url to the https:// address. ${see}` });
  }
  return problems;
}

/** The warnings of `reachabilityProblems` for a base URL an admin is about to paste. */
export function Reachability({ base }) {
  const problems = reachabilityProblems(base);
  if (!problems.length) return null;
  return html`<div class="notice diag reachability" role="note">
    <p><strong>This base URL will not work for a cloud IdP as it is.</strong></p>
    <ul>${problems.map((p) => html`<li>${p.title} ${p.fix}</li>`)}</ul>
  </div>`;
}
