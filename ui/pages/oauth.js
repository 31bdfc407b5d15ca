// OAuth 2.0 clients of one tenant (issue 28): the tenant's token endpoint, register a client
// (secret shown once), list with status and last use, rotate, revoke. Shown on the Tokens page
// and, for Entra's "OAuth2 Client Credentials Grant", inside its setup guide.
import { html, useState, api, enc, useLoad, Time, ErrorBox, Loading, Empty, Badge, CopyField, TableWrap, announce } from '../lib.js';

const METHODS = [['client_secret', 'Client secret (Entra, most IdPs)'], ['private_key_jwt', 'Private key JWT (RFC 7523)']];

/** The one-time display of a registered client's credentials. */
export function ClientPanel({ shown, onDone }) {
  const c = shown.client;
  return html`<div class="notice secret" role="alert" aria-labelledby="client-title">
    <h3 id="client-title">OAuth client “${c.name}” — ${shown.client_secret ? 'copy the secret now' : 'registered'}</h3>
    ${shown.client_secret && html`<p><strong>This is the only time scimd shows this client secret.</strong> It stores only a hash; if you lose it, rotate the client.</p>`}
    <dl class="values">
      <div><dt>Token endpoint</dt><dd><${CopyField} value=${shown.token_endpoint} label="Token endpoint" /></dd></div>
      <div><dt>Client ID</dt><dd><${CopyField} value=${c.client_id} label="Client ID" /></dd></div>
      ${shown.client_secret && html`<div><dt>Client secret</dt><dd><span id="client-secret"><${CopyField} value=${shown.client_secret} label="Client secret" /></span></dd></div>`}
      <div><dt>Scope</dt><dd><${CopyField} value=${shown.scope} label="Scope" /></dd></div>
    </dl>
    ${onDone && html`<button type="button" class="btn" onClick=${onDone}>I have stored it</button>`}
  </div>`;
}

/** Register-a-client form (`forIdp`: a secret client, no choice of method). */
export function RegisterClient({ slug, defaultName = '', onRegistered, idPrefix = 'oc', forIdp = false }) {
  const [name, setName] = useState(defaultName);
  const [method, setMethod] = useState('client_secret');
  const [keys, setKeys] = useState('');
  const [jwksUri, setJwksUri] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const body = { name: name.trim(), method };
      if (method === 'private_key_jwt') { body.public_keys = keys || undefined; body.jwks_uri = jwksUri.trim() || undefined; }
      const shown = await api('POST', `/api/tenants/${enc(slug)}/oauth-clients`, body);
      announce(`OAuth client ${shown.client.name} registered.`);
      onRegistered(shown);
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<form class="row" onSubmit=${submit}>
    <div class="field"><label for=${`${idPrefix}-name`}>Client name</label>
      <input id=${`${idPrefix}-name`} required value=${name} placeholder="entra-production" onInput=${(e) => setName(e.target.value)} /></div>
    ${!forIdp && html`<div class="field"><label for=${`${idPrefix}-method`}>Client authentication</label>
      <select id=${`${idPrefix}-method`} value=${method} onChange=${(e) => setMethod(e.target.value)}>${METHODS.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></div>`}
    ${method === 'private_key_jwt' && html`<div class="field"><label for=${`${idPrefix}-keys`}>Public key (PEM or JWK Set)</label>
      <textarea id=${`${idPrefix}-keys`} rows="4" value=${keys} placeholder="-----BEGIN PUBLIC KEY-----" onInput=${(e) => setKeys(e.target.value)}></textarea></div>
      <div class="field"><label for=${`${idPrefix}-jwks`}>or JWKS URL</label>
      <input id=${`${idPrefix}-jwks`} type="url" value=${jwksUri} placeholder="https://idp.example.com/jwks.json" onInput=${(e) => setJwksUri(e.target.value)} /></div>`}
    <div class="field actions"><button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Registering…' : 'Register client'}</button></div>
    <${ErrorBox} error=${error} title="The client was not registered" />
  </form>`;
}

function statusBadge(c) {
  if (c.status === 'revoked') return html`<${Badge} kind="bad">revoked<//>`;
  if (c.status === 'rotating') return html`<${Badge} kind="warn">rotated, old secret works until <${Time} iso=${c.previous_until} /><//>`;
  return html`<${Badge} kind="good">active<//>`;
}

function ClientRow({ slug, c, onChanged, onShown }) {
  const [mode, setMode] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const act = async (fn) => {
    setBusy(true); setError(null);
    try { await fn(); setMode(null); onChanged(); } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const revoke = () => act(async () => {
    await api('DELETE', `/api/tenants/${enc(slug)}/oauth-clients/${enc(c.id)}`);
    announce(`OAuth client ${c.name} revoked`);
  });
  const rotate = () => act(async () => {
    onShown(await api('POST', `/api/tenants/${enc(slug)}/oauth-clients/${enc(c.id)}/rotate`, {}));
  });
  const live = c.status !== 'revoked';
  return html`<tr>
    <th scope="row">${c.name}<div class="muted mono">${c.client_id}</div></th>
    <td data-label="Authentication">${c.method === 'private_key_jwt' ? (c.jwks_uri ? `private_key_jwt (${c.jwks_uri})` : 'private_key_jwt (registered key)') : 'client secret'}</td>
    <td data-label="Status">${statusBadge(c)}</td>
    <td data-label="Live tokens">${c.live_tokens}</td>
    <td data-label="Last used">${c.last_used ? html`<${Time} iso=${c.last_used} /><div class="muted small">${c.last_used_agent || ''}${c.last_used_ip ? ` · ${c.last_used_ip}` : ''}</div>` : html`<${Badge} kind="warn">never used<//>`}</td>
    <td class="actions-cell" data-label="Actions">
      ${live && mode === null && html`${c.method === 'client_secret' && html`<button type="button" class="btn small" onClick=${() => setMode('rotate')}>Rotate secret…</button> `}<button type="button" class="btn small danger" onClick=${() => setMode('revoke')}>Revoke…</button>`}
      ${mode === 'revoke' && html`<div class="confirm" role="group" aria-label=${`Revoke ${c.name}`}>
        <p>Revoke “${c.name}”? Its access tokens stop working at the next request.</p>
        <button type="button" class="btn small danger" disabled=${busy} onClick=${revoke}>Revoke now</button> <button type="button" class="btn small" onClick=${() => setMode(null)}>Cancel</button></div>`}
      ${mode === 'rotate' && html`<div class="confirm" role="group" aria-label=${`Rotate ${c.name}`}>
        <p>A new secret; the old one keeps working for 24 hours.</p>
        <button type="button" class="btn small primary" disabled=${busy} onClick=${rotate}>Rotate now</button> <button type="button" class="btn small" onClick=${() => setMode(null)}>Cancel</button></div>`}
      <${ErrorBox} error=${error} title="That did not work" />
    </td>
  </tr>`;
}

/** External authorization servers whose JWT access tokens the tenant accepts. */
export function TrustedIssuers({ slug }) {
  const list = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/oauth-issuers`), [slug]);
  const [form, setForm] = useState({ name: '', issuer: '', jwks_uri: '', audience: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const add = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const row = await api('POST', `/api/tenants/${enc(slug)}/oauth-issuers`, { ...form, audience: form.audience.trim() || undefined });
      announce(`Tenant ${slug} now accepts JWT access tokens of ${row.name}`);
      setForm({ name: '', issuer: '', jwks_uri: '', audience: '' });
      list.reload();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const remove = async (row) => {
    setError(null);
    try { await api('DELETE', `/api/tenants/${enc(slug)}/oauth-issuers/${enc(row.id)}`); announce(`Issuer ${row.name} removed`); list.reload(); } catch (err) { setError(err); }
  };
  const rows = list.data || [];
  return html`<section class="card" aria-labelledby="oauth-issuers">
    <h2 id="oauth-issuers">Trusted authorization servers</h2>
    <p class="muted">JWT access tokens signed by these issuers are accepted when their audience is this tenant's SCIM base URL (or the audience given) and their scope includes “scim”.</p>
    <form class="row" onSubmit=${add}>
      <div class="field"><label for="iss-name">Name</label><input id="iss-name" required value=${form.name} onInput=${set('name')} placeholder="corp-idp" /></div>
      <div class="field"><label for="iss-issuer">Issuer (iss)</label><input id="iss-issuer" required value=${form.issuer} onInput=${set('issuer')} placeholder="https://idp.example.com" /></div>
      <div class="field"><label for="iss-jwks">JWKS URL</label><input id="iss-jwks" type="url" required value=${form.jwks_uri} onInput=${set('jwks_uri')} placeholder="https://idp.example.com/jwks.json" /></div>
      <div class="field"><label for="iss-aud">Audience (optional)</label><input id="iss-aud" value=${form.audience} onInput=${set('audience')} /></div>
      <div class="field actions"><button class="btn primary" type="submit" disabled=${busy}>Trust issuer</button></div>
    </form>
    <${ErrorBox} error=${error || list.error} title="That did not work" />
    ${rows.length > 0 && html`<${TableWrap} label="Trusted authorization servers"><table class="stack">
      <thead><tr><th scope="col">Name</th><th scope="col">Issuer</th><th scope="col">JWKS URL</th><th scope="col">Audience</th><th scope="col">Actions</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr key=${r.id}><th scope="row">${r.name}</th><td data-label="Issuer" class="mono">${r.issuer}</td><td data-label="JWKS URL" class="mono">${r.jwks_uri}</td><td data-label="Audience">${r.audience || 'the SCIM base URL'}</td>
        <td class="actions-cell" data-label="Actions"><button type="button" class="btn small danger" onClick=${() => remove(r)} aria-label=${`Remove ${r.name}`}>Remove</button></td></tr>`)}</tbody>
    </table><//>`}
  </section>`;
}

/** The OAuth section of the Tokens page. */
export function OAuthClients({ slug }) {
  const list = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/oauth-clients`), [slug]);
  const [shown, setShown] = useState(null);
  const onShown = (s) => { setShown(s); list.reload(); };
  const d = list.data;
  const clients = (d && d.clients) || [];
  return html`<section class="card" aria-labelledby="oauth-clients">
    <h2 id="oauth-clients">OAuth 2.0 clients</h2>
    <p class="muted">IdPs that use the OAuth 2.0 client credentials grant get short-lived access tokens from this tenant's token endpoint instead of a long-lived token.</p>
    ${d && html`<dl class="values" id="oauth-endpoints">
      <div><dt>Token endpoint</dt><dd><${CopyField} value=${d.token_endpoint} label="Token endpoint" /></dd></div>
      <div><dt>Scope</dt><dd><${CopyField} value=${d.scope} label="Scope" /></dd></div>
      <div><dt>Metadata (RFC 8414)</dt><dd><span class="value mono">${d.metadata}</span></dd></div>
    </dl>`}
    <h3>Register a client</h3>
    <${RegisterClient} slug=${slug} onRegistered=${onShown} />
    ${shown && html`<${ClientPanel} shown=${shown} onDone=${() => setShown(null)} />`}
    <${ErrorBox} error=${list.error} title="OAuth clients could not be loaded" />
    ${list.loading && !d ? html`<${Loading} what="Loading OAuth clients" />`
      : clients.length === 0 ? html`<${Empty} title="No OAuth clients yet."><p>Register one above for an IdP that authenticates with OAuth.</p><//>`
      : html`<${TableWrap} label="OAuth clients"><table class="stack">
          <thead><tr><th scope="col">Name</th><th scope="col">Authentication</th><th scope="col">Status</th><th scope="col">Live tokens</th><th scope="col">Last used</th><th scope="col">Actions</th></tr></thead>
          <tbody>${clients.map((c) => html`<${ClientRow} key=${c.id} slug=${slug} c=${c} onChanged=${list.reload} onShown=${onShown} />`)}</tbody>
        </table><//>`}
  </section>`;
}

/** The OAuth variant of a setup guide: Entra's client credentials grant; Okta's OAuth 2 mode
 *  is the authorization code grant, which scimd does not offer, and the guide says so. */
export function OAuthSetup({ slug, idp, base, suggested }) {
  const [shown, setShown] = useState(null);
  if (idp === 'okta') {
    return html`<li><h2>OAuth with Okta</h2><div class="notice" id="okta-oauth">
      <p>Okta's “Authentication Mode: OAuth 2” for SCIM apps is the <strong>authorization code</strong> grant: it asks for an Access token endpoint URI <em>and an Authorization endpoint URI</em> where a person signs in. scimd's token endpoint offers the client credentials grant only, so Okta cannot use it.</p>
      <p>For Okta, choose <strong>HTTP Header</strong> with a token (switch back to “Bearer token” above) and give the token an expiry, or connect through an IdP that supports client credentials (Entra).</p>
    </div></li>`;
  }
  const endpoint = base.replace(/\/scim\/v2$/, '/oauth/token');
  return html`<li><h2>Register an OAuth client for Microsoft Entra ID</h2>
      ${shown ? html`<${ClientPanel} shown=${shown} />` : suggested && html`<${RegisterClient} key=${suggested} slug=${slug} defaultName=${suggested} idPrefix="setup-oc" forIdp=${true} onRegistered=${setShown} />`}
    </li>
    <li><h2>Paste these values</h2>
      <p>In Admin Credentials, set <strong>Authentication Method</strong> to <strong>OAuth2 Client Credentials Grant</strong>.</p>
      <dl class="values" id="setup-oauth-values">
        <div><dt>Tenant URL</dt><dd><${CopyField} value=${base} label="Tenant URL" /></dd></div>
        <div><dt>Token Endpoint</dt><dd><${CopyField} value=${endpoint} label="Token Endpoint" /></dd></div>
        <div><dt>Client Identifier</dt><dd>${shown ? html`<${CopyField} value=${shown.client.client_id} label="Client Identifier" />` : html`<span class="muted">the client ID from the step above</span>`}</dd></div>
        <div><dt>Client Secret</dt><dd>${shown ? html`<${CopyField} value=${shown.client_secret} label="Client Secret" />` : html`<span class="muted">the client secret from the step above</span>`}</dd></div>
      </dl>
      <p class="muted small">Entra requests a token (scope “scim” is implied) and renews it before it expires; revoking the client on the Tokens page stops it at once.</p>
    </li>`;
}
