// Tokens of one tenant: create (secret shown once), list with last use and expiry, revoke,
// rotate with an overlap during which both the old and the new token work.
import { OAuthClients, TrustedIssuers } from './oauth.js';
import { html, useState, useEffect, api, enc, useLoad, Time, ErrorBox, Loading, Empty, Badge, CopyButton, TableWrap, PageTitle, announce, daysUntil, tenantPath } from '../lib.js';
import { security, parseRanges } from './security.js';

// `never` is sent as such: without a choice the server applies the install's default lifetime.
const EXPIRY = [['never', 'Never'], ['30d', '30 days'], ['90d', '90 days'], ['365d', '1 year']];
// What a token may do: an IdP writes over SCIM; an application reads (SCIM read-only) or
// follows the events feed (docs/events.md).
const ACCESS = [['scim', 'SCIM (an IdP)'], ['read-only', 'SCIM read-only'], ['events', 'Events feed (an application)']];
const OVERLAP = [['1h', '1 hour'], ['24h', '24 hours'], ['7d', '7 days']];

/** The one-time display of a new secret, with a copy button and the warning. */
export function SecretPanel({ issued, onDone }) {
  return html`<div class="notice secret" role="alert" aria-labelledby="secret-title">
    <h3 id="secret-title">Token “${issued.token.name}” — copy it now</h3>
    <p><strong>This is the only time scimd shows this token.</strong> It stores only a hash; if you lose it, rotate or create another.</p>
    <p class="secretline"><code id="token-secret" data-copy-source=${issued.secret}>${issued.secret}</code> <${CopyButton} text=${issued.secret} label="Copy token" /></p>
    ${issued.replaces && html`<p>The old token “${issued.replaces.name}” keeps working until <${Time} iso=${issued.replaces.overlap_until} />. Update your IdP before then.</p>`}
    ${onDone && html`<button type="button" class="btn" onClick=${onDone}>I have stored it</button>`}
  </div>`;
}

/** Create-token form, also used inside the setup guides (`forIdp`: a SCIM token, no choice). */
export function CreateToken({ slug, defaultName = '', onCreated, idPrefix = 'tok', forIdp = false }) {
  const [name, setName] = useState(defaultName);
  const [expires, setExpires] = useState('');
  const [ranges, setRanges] = useState('');
  const [access, setAccess] = useState('scim');
  // Preselect the install's default lifetime (1 year on a new install; never on an older one).
  useEffect(() => { security().then((s) => setExpires((e) => e || s.token_expires_in || 'never'), () => setExpires((e) => e || 'never')); }, []);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const issued = await api('POST', `/api/tenants/${enc(slug)}/tokens`, { name: name.trim(), expires_in: expires || undefined, allowed_addresses: parseRanges(ranges), read_only: access === 'read-only', kind: access === 'events' ? 'events' : 'scim' });
      announce(`Token ${issued.token.name} created. Copy it now; it is shown only once.`);
      onCreated(issued);
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<form class="row" onSubmit=${submit}>
    <div class="field"><label for=${`${idPrefix}-name`}>Token name</label>
      <input id=${`${idPrefix}-name`} required value=${name} placeholder="okta-production" onInput=${(e) => setName(e.target.value)} /></div>
    <div class="field"><label for=${`${idPrefix}-exp`}>Expires</label>
      <select id=${`${idPrefix}-exp`} value=${expires} onChange=${(e) => setExpires(e.target.value)}>${expiryOptions(expires).map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></div>
    <div class="field"><label for=${`${idPrefix}-from`}>Allowed from <span class="muted small">(optional)</span></label>
      <input id=${`${idPrefix}-from`} value=${ranges} placeholder="any address; or e.g. 203.0.113.0/24" aria-describedby=${`${idPrefix}-from-help`} onInput=${(e) => setRanges(e.target.value)} />
      <div id=${`${idPrefix}-from-help`} class="muted small">CIDR ranges, comma separated: your IdP's published ranges (README “Secure defaults”). Requests from elsewhere get 403.</div></div>
    ${!forIdp && html`<div class="field"><label for=${`${idPrefix}-access`}>Access</label>
      <select id=${`${idPrefix}-access`} value=${access} onChange=${(e) => setAccess(e.target.value)}>${ACCESS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></div>`}
    <div class="field actions"><button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Creating…' : 'Create token'}</button></div>
    <${ErrorBox} error=${error} title="The token was not created" />
  </form>`;
}

/** The lifetimes offered, with the install's default among them even when it is not a preset. */
function expiryOptions(current) {
  return current && !EXPIRY.some(([v]) => v === current) ? [...EXPIRY, [current, current]] : EXPIRY;
}

/** A token's allowlist, changeable in place: empty accepts any address. */
function Addresses({ slug, t, onChanged }) {
  const [editing, setEditing] = useState(false);
  const [text, setText] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const list = t.allowed_addresses || [];
  const save = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      await api('PUT', `/api/tenants/${enc(slug)}/tokens/${enc(t.id)}/addresses`, { allowed_addresses: parseRanges(text) });
      announce(`Addresses of token ${t.name} saved`);
      setEditing(false); onChanged();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const live = t.status !== 'revoked';
  return html`<div class="addresses">
    ${list.length === 0 ? html`<span class="muted">any address</span>` : html`<span class="mono">${list.join(', ')}</span>`}
    ${live && !editing && html` <button type="button" class="btn small" onClick=${() => { setText(list.join(', ')); setEditing(true); }} aria-label=${`Change addresses of ${t.name}`}>Change…</button>`}
    ${editing && html`<form class="confirm" onSubmit=${save}>
      <label for=${`addr-${t.id}`}>Allowed from (empty: any address)</label>
      <input id=${`addr-${t.id}`} value=${text} onInput=${(e) => setText(e.target.value)} />
      <button class="btn small primary" type="submit" disabled=${busy}>Save addresses</button> <button type="button" class="btn small" onClick=${() => setEditing(false)}>Cancel</button></form>`}
    <${ErrorBox} error=${error} title="The addresses were not saved" />
  </div>`;
}

function statusBadge(t) {
  if (t.status === 'revoked') return html`<${Badge} kind="bad">revoked<//>`;
  if (t.status === 'expired') return html`<${Badge} kind="bad">expired<//>`;
  if (t.status === 'rotated') return html`<${Badge} kind="warn">rotated, works until <${Time} iso=${t.overlap_until} /><//>`;
  if (t.expires && daysUntil(t.expires) < 14) return html`<${Badge} kind="warn">expires soon<//>`;
  return html`<${Badge} kind="good">active<//>`;
}

function Row({ slug, t, onChanged, onIssued }) {
  const [mode, setMode] = useState(null);
  const [overlap, setOverlap] = useState('24h');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const live = t.status === 'active' || t.status === 'rotated';
  const act = async (fn) => {
    setBusy(true); setError(null);
    try { await fn(); setMode(null); onChanged(); } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const revoke = () => act(async () => {
    await api('DELETE', `/api/tenants/${enc(slug)}/tokens/${enc(t.id)}`);
    announce(`Token ${t.name} revoked`);
  });
  const rotate = () => act(async () => {
    const issued = await api('POST', `/api/tenants/${enc(slug)}/tokens/${enc(t.id)}/rotate`, { overlap });
    onIssued(issued);
  });
  return html`<tr>
    <th scope="row">${t.name}${t.read_only && html` <${Badge}>read-only<//>`}${t.kind === 'events' && html` <${Badge}>events feed<//>`}<div class="muted mono">${t.prefix}…</div></th>
    <td data-label="Status">${statusBadge(t)}</td>
    <td data-label="Last used">${t.last_used ? html`<${Time} iso=${t.last_used} /><div class="muted small">${t.last_used_agent || ''}${t.last_used_ip ? ` · ${t.last_used_ip}` : ''}</div>` : html`<${Badge} kind="warn">never used<//>`}</td>
    <td data-label="Expires"><${Time} iso=${t.expires} empty="never" /></td>
    <td data-label="Allowed from"><${Addresses} slug=${slug} t=${t} onChanged=${onChanged} /></td>
    <td data-label="Created"><${Time} iso=${t.created} /></td>
    <td class="actions-cell" data-label="Actions">
      ${live && mode === null && html`<button type="button" class="btn small" onClick=${() => setMode('rotate')}>Rotate…</button> <button type="button" class="btn small danger" onClick=${() => setMode('revoke')}>Revoke…</button>`}
      ${mode === 'revoke' && html`<div class="confirm" role="group" aria-label=${`Revoke ${t.name}`}>
        <p>Revoke “${t.name}”? Every IdP using it gets 401 from the next request.</p>
        <button type="button" class="btn small danger" disabled=${busy} onClick=${revoke}>Revoke now</button> <button type="button" class="btn small" onClick=${() => setMode(null)}>Cancel</button></div>`}
      ${mode === 'rotate' && html`<div class="confirm" role="group" aria-label=${`Rotate ${t.name}`}>
        <label for=${`ov-${t.id}`}>Old token keeps working for</label>
        <select id=${`ov-${t.id}`} value=${overlap} onChange=${(e) => setOverlap(e.target.value)}>${OVERLAP.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select>
        <button type="button" class="btn small primary" disabled=${busy} onClick=${rotate}>Rotate now</button> <button type="button" class="btn small" onClick=${() => setMode(null)}>Cancel</button></div>`}
      <${ErrorBox} error=${error} title="That did not work" />
    </td>
  </tr>`;
}

export function Tokens({ slug }) {
  const list = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/tokens`), [slug]);
  const [issued, setIssued] = useState(null);
  const onIssued = (i) => { setIssued(i); list.reload(); };
  const tokens = list.data || [];
  return html`<${PageTitle} sub=${`Bearer tokens your IdPs use for tenant “${slug}”. A first use is recorded within about 10 seconds, later ones at most once a minute.`}>Tokens<//>
    <section class="card" aria-labelledby="new-token">
      <h2 id="new-token">Create a token</h2>
      <${CreateToken} slug=${slug} onCreated=${onIssued} />
      ${issued && html`<${SecretPanel} issued=${issued} onDone=${() => setIssued(null)} />`}
    </section>
    <section aria-labelledby="token-list" aria-busy=${list.loading ? 'true' : 'false'}>
      <h2 id="token-list">Tokens of ${slug}</h2>
      <${ErrorBox} error=${list.error} title="Tokens could not be loaded" />
      ${list.loading && !list.data ? html`<${Loading} what="Loading tokens" />`
        : tokens.length === 0 ? html`<${Empty} title="No tokens yet."><p>Create one above, or open a <a href=${tenantPath(slug, 'setup')}>setup guide</a> that creates one for your IdP.</p><//>`
        : html`<${TableWrap} label="Tokens"><table class="stack">
            <thead><tr><th scope="col">Name</th><th scope="col">Status</th><th scope="col">Last used</th><th scope="col">Expires</th><th scope="col">Allowed from</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
            <tbody>${tokens.map((t) => html`<${Row} key=${t.id} slug=${slug} t=${t} onChanged=${list.reload} onIssued=${onIssued} />`)}</tbody>
          </table><//>`}
    </section>
    <${OAuthClients} slug=${slug} />
    <${TrustedIssuers} slug=${slug} />`;
}
