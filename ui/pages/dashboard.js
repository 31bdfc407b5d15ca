// Dashboard: per tenant the SCIM base URL to paste, token status, integration health per IdP
// and recent failures with their diagnosis (the last two from the request log when present);
// above them, the last `scimd doctor` report for the deployment as a whole.
import { AlarmBanner } from './deleted.js';
import { ConfigWarnings } from './security.js';
import { html, useState, useEffect, api, enc, qs, instance, scimBase, tenantPath, Time, ErrorBox, Loading, Empty, Badge, CopyField, PageTitle, guessIdp, idpName, daysUntil, Reachability, quirkPhrase } from '../lib.js';

/** Tokens by what they have done. A refused request is an attempt too: a token whose only
 * requests were refused is "only refused", not "never used". */
function tokenSummary(tokens, health) {
  const live = tokens.filter((t) => t.status === 'active' || t.status === 'rotated');
  // The log knows a request at once; a token's own last use is written within seconds to a minute.
  const logged = new Map(((health && health.tokens) || []).map((h) => [h.id, h]));
  const succeeded = (t) => t.last_used || (logged.get(t.id) || {}).last_success;
  const refused = (t) => (logged.get(t.id) || {}).last_error;
  return {
    live,
    soon: live.filter((t) => t.expires && daysUntil(t.expires) < 14),
    never: live.filter((t) => !succeeded(t) && !refused(t)),
    onlyRefused: live.filter((t) => !succeeded(t) && refused(t)),
    last: tokens.filter((t) => t.last_used).sort((a, b) => (a.last_used < b.last_used ? 1 : -1))[0],
  };
}

/** An integration's state from its numbers (README "Dashboard states"): failing when its newest
 * request failed or half or more of the last 24 hours did; degraded from 5 % failed; else
 * healthy. */
function healthState(h) {
  const newestFailed = h.last_error && (!h.last_success || h.last_error.time > h.last_success);
  if (newestFailed || h.error_rate_24h >= 0.5) return { kind: 'bad', label: 'failing' };
  if (h.error_rate_24h >= 0.05) return { kind: 'warn', label: 'degraded' };
  return { kind: 'good', label: 'healthy' };
}

/** A client that is not a known IdP, named by its User-Agent's product ("curl/8.5" → curl). */
function clientName(idp, agent) {
  if (idp !== 'other') return idpName(idp);
  const product = (agent || '').split(/[/\s]/)[0];
  return product ? `client ${product}` : 'another client';
}

/** An integration's quirk profile (issue 21): the attributes no schema defines that it sends,
 * counted, and each normalisation of its dialect with first and last time seen. */
function QuirkProfile({ i }) {
  const ignored = i.ignored || [];
  const quirks = i.quirks || [];
  if (quirks.length === 0 && ignored.length === 0) return null;
  const who = clientName(i.idp, i.agent);
  return html`<div class="profile small">
    ${i.ignoredRequests > 0 && html`<p><${Badge} kind="warn">${ignored.length} ignored attribute${ignored.length === 1 ? '' : 's'}<//> in ${i.ignoredRequests} request${i.ignoredRequests === 1 ? '' : 's'}: ${ignored.map((a) => a.name).join(', ')}. No schema of this tenant defines ${ignored.length === 1 ? 'it' : 'them'}, so scimd did not store ${ignored.length === 1 ? 'it' : 'them'}: fix the attribute mapping in ${who} or declare an extension.</p>`}
    <ul class="plain quirks" aria-label=${`What ${who} sends`}>${quirks.map((q) => html`<li key=${q.id} title=${q.explanation}>
      This ${who} integration sends <strong>${quirkPhrase(q)}</strong> · ${q.requests} request${q.requests === 1 ? '' : 's'} · first seen <${Time} iso=${q.first_seen} /> · last seen <${Time} iso=${q.last_seen} />
    </li>`)}</ul>
  </div>`;
}

function TenantCard({ t, origin }) {
  const [state, setState] = useState({ tokens: null, health: null, failures: null, error: null });
  useEffect(() => {
    let live = true;
    (async () => {
      try {
        const tokens = await api('GET', `/api/tenants/${enc(t.slug)}/tokens`);
        const [health, failures, webhooks] = await Promise.all([
          api('GET', `/api/health${qs({ tenant: t.slug })}`).catch(() => null),
          api('GET', `/api/log${qs({ tenant: t.slug, status: 'errors', per_page: 5 })}`).catch(() => null),
          api('GET', `/api/tenants/${enc(t.slug)}/webhooks`).catch(() => null),
        ]);
        if (live) setState({ tokens, health, failures, webhooks, error: null });
      } catch (error) { if (live) setState((s) => ({ ...s, error })); }
    })();
    return () => { live = false; };
  }, [t.slug]);

  const base = scimBase(origin, t.slug);
  const s = state.tokens && tokenSummary(state.tokens, state.health);
  const agentOf = (id) => ((state.tokens || []).find((x) => x.id === id) || {}).last_used_agent;
  // Health per IdP: from /api/health when the log exists, else from each token's last use.
  let idps = [];
  if (state.health && state.health.tokens) {
    idps = state.health.tokens.filter((h) => h.last_success || h.last_error).map((h) => ({
      key: h.id,
      idp: Object.keys(h.requests_by_idp || {}).sort((a, b) => h.requests_by_idp[b] - h.requests_by_idp[a])[0] || 'other',
      agent: h.user_agent || agentOf(h.id),
      name: h.name,
      state: healthState(h),
      last: h.last_success,
      err: h.last_error,
      rate: h.error_rate_24h,
      quirks: h.quirks,
      ignored: h.ignored_attributes,
      ignoredRequests: h.ignored_requests,
    }));
  } else if (s) {
    // Without the log only successful authentication is known: say "connected", not "healthy".
    idps = s.live.filter((x) => x.last_used).map((x) => ({ key: x.id, idp: guessIdp(x.last_used_agent) || guessIdp(x.name) || 'other', agent: x.last_used_agent, name: x.name, state: { kind: 'good', label: 'connected' }, connectedOnly: true, last: x.last_used }));
  }
  const headingId = `tenant-${t.slug}`;
  return html`<section class="card tenantcard" aria-labelledby=${headingId}>
    <h2 id=${headingId}><a href=${tenantPath(t.slug, 'users')}>${t.display_name || t.slug}</a> <span class="muted small">(${t.slug})</span></h2>
    <p class="label" id=${`${headingId}-url`}>SCIM base URL</p>
    <p><${CopyField} value=${base} label=${`SCIM base URL of ${t.slug}`} /></p>
    <${Reachability} base=${base} />
    <${AlarmBanner} slug=${t.slug} />
    <${ErrorBox} error=${state.error} title="Could not load this tenant's status" />
    <${WebhookAlerts} slug=${t.slug} hooks=${state.webhooks} />
    ${!s ? html`<${Loading} what="Loading tokens" />` : html`
      <h3>Tokens</h3>
      ${s.live.length === 0 ? html`<p>No working token. <a href=${tenantPath(t.slug, 'tokens')}>Create one</a> or <a href=${tenantPath(t.slug, 'setup')}>follow a setup guide</a>.</p>`
        : html`<ul class="plain stats">
            <li><strong>${s.live.length}</strong> working</li>
            ${s.soon.length > 0 && html`<li><${Badge} kind="warn">${s.soon.length} expiring soon<//> ${s.soon.map((x) => x.name).join(', ')}</li>`}
            ${s.never.length > 0 && html`<li><${Badge} kind="warn">${s.never.length} never used<//> ${s.never.map((x) => x.name).join(', ')}</li>`}
            ${s.onlyRefused.length > 0 && html`<li><${Badge} kind="bad">${s.onlyRefused.length} only refused<//> ${s.onlyRefused.map((x) => x.name).join(', ')}: see Recent failures</li>`}
            <li>Last used: ${s.last ? html`<${Time} iso=${s.last.last_used} /> by ${s.last.name}` : s.onlyRefused.length > 0 ? 'no request has succeeded yet' : 'never — no IdP has called yet'}</li>
          </ul>`}
      <h3>Integration health</h3>
      ${idps.length === 0 ? html`<p class="muted">No IdP has connected yet. Open the <a href=${tenantPath(t.slug, 'setup')}>setup guide</a> for yours.</p>`
        : html`<ul class="plain health">${idps.map((i) => html`<li>
            <${Badge} kind=${i.state.kind}>${i.state.label}<//> <strong>${clientName(i.idp, i.agent)}</strong> via token ${i.name}
            ${i.last && html` · ${i.connectedOnly ? 'last request' : 'last success'} <${Time} iso=${i.last} />`}
            ${i.err && html`<div class="small">last error ${i.err.status}: ${i.err.detail} (<${Time} iso=${i.err.time} />)</div>`}
            ${typeof i.rate === 'number' && html`<span class="muted small"> · ${(i.rate * 100).toFixed(1)}% errors in 24 h</span>`}
            <${QuirkProfile} i=${i} />
          </li>`)}</ul>`}
      <h3>Recent failures</h3>
      ${!state.failures || state.failures.items.length === 0 ? html`<p class="muted">No failed requests recorded. </p>`
        : html`<ul class="plain failures">${state.failures.items.map((f) => html`<li>
            <a href=${tenantPath(t.slug, 'activity') + qs({ id: f.id })}><${Badge} kind="bad">${f.status}<//> ${f.method} ${f.path}</a> · <${Time} iso=${f.time} />
            ${f.diagnosis && html`<div class="diag small"><strong>${f.diagnosis.title}.</strong> ${f.diagnosis.fix}</div>`}
          </li>`)}</ul>`}`}
  </section>`;
}

/** The last `scimd doctor` run: when, the counts, and every check that did not pass with its
 * fix, since that is what the admin must act on. */
function DoctorCard() {
  const [state, setState] = useState({ report: undefined, error: null });
  useEffect(() => {
    api('GET', '/api/doctor').then((report) => setState({ report, error: null }), (error) => setState({ report: null, error }));
  }, []);
  const r = state.report;
  const count = (o) => r.checks.filter((c) => c.outcome === o).length;
  const open = r ? r.checks.filter((c) => c.outcome !== 'pass') : [];
  return html`<section class="card doctor" aria-labelledby="doctor-heading">
    <h2 id="doctor-heading">Deployment check</h2>
    <${ErrorBox} error=${state.error} title="Could not load the last deployment check" />
    ${r === undefined ? html`<${Loading} what="Loading the last deployment check" />`
      : r === null ? html`<p class="muted">Never run. Run <code>scimd doctor</code> on the server: it checks TLS, the public URL, the database, disk, backups, tokens and the clock, and names the fix for each problem.</p>`
      : html`<p><${Badge} kind=${r.ok ? (open.length ? 'warn' : 'good') : 'bad'}>${r.ok ? (open.length ? 'passed with warnings' : 'passed') : 'failed'}<//>
          <code>scimd doctor</code> ran <${Time} iso=${r.ran_at} />: ${count('pass')} passed, ${count('warn')} warned, ${count('fail')} failed.</p>
        ${open.length > 0 && html`<ul class="plain failures">${open.map((c) => html`<li>
          <${Badge} kind=${c.outcome === 'fail' ? 'bad' : 'warn'}>${c.name}<//> ${c.detail}
          ${c.fix && html`<div class="diag small"><strong>Fix:</strong> ${c.fix}</div>`}
        </li>`)}</ul>`}`}
  </section>`;
}

// Webhook endpoints that need an admin: failing (retries gave up) or disabled (410, backlog
// bound, or by hand). Their events wait on the feed until a replay.
function WebhookAlerts({ slug, hooks }) {
  const bad = (hooks || []).filter((w) => w.state !== 'active');
  if (bad.length === 0) return null;
  return html`<div class="notice" role="alert">
    <h3>Webhooks need attention</h3>
    <ul class="plain">${bad.map((w) => html`<li key=${w.id}><${Badge} kind=${w.state === 'failing' ? 'bad' : 'warn'}>${w.state}<//> <span class="mono">${w.url}</span>: ${w.state_reason || 'no reason recorded'} (${w.backlog.events} events waiting). <a href=${tenantPath(slug, 'webhooks')}>Open Webhooks</a></li>`)}</ul>
  </div>`;
}

export function Dashboard({ tenants }) {
  const [origin, setOrigin] = useState(null);
  useEffect(() => { instance().then((i) => setOrigin(i.origin)); }, []);
  return html`<${PageTitle} sub="What each IdP should point at, and whether it is working.">Dashboard<//>
    ${tenants === null || origin === null ? html`<${Loading} what="Loading tenants" />`
      : tenants.length === 0 ? html`<${Empty} title="No tenants."><p><a href="/ui/tenants">Create a tenant</a> to get a SCIM URL.</p><//>`
      : html`<${ConfigWarnings} /><${DoctorCard} /><div class="grid">${tenants.map((t) => html`<${TenantCard} key=${t.slug} t=${t} origin=${origin} />`)}</div>`}`;
}
