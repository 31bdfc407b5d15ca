// OAuth 2.0 clients of one tenant (issue 28): the tenant's token endpoint, register a client
// (secret shown once), list with status and last use, rotate, revoke, redirect URIs. Shown on
// the Tokens page and inside the setup guides: Entra's "OAuth2 Client Credentials Grant" and
// Okta's "OAuth 2" (the authorization code grant, with a redirect URI).
import { html, useState, api, enc, useLoad, Time, ErrorBox, Loading, Empty, Badge, CopyField, TableWrap, announce } from '../lib.js';

const METHODS = [['client_secret', 'Client secret (Entra, most IdPs)'], ['private_key_jwt', 'Private key JWT (RFC 7523)']];

/** The one-time display of a registered client's credentials. */
export function ClientPanel({ shown, onDone }) {
  const c = shown.client;
  return html`<div class="notice secret" role="alert" aria-labelledby="client-title">
    <h3 id="client-title">OAuth client “${c.name}” — ${shown.client_secret ? 'copy the secret now' : 'registered'}</h3>
    ${shown.client_secret && html`<p><strong>This is the only time scimd shows this client secret.</strong> It stores only a hash; if you lose it, rotate the client.</p>`}
    <dl class="values">
      ${c.redirect_uris && c.redirect_uris.length > 0 && html`<div><dt>Authorization endpoint</dt><dd><${CopyField} value=${shown.authorization_endpoint} label="Authorization endpoint" /></dd></div>`}
      <div><dt>Token endpoint</dt><dd><${CopyField} value=${shown.token_endpoint} label="Token endpoint" /></dd></div>
      <div><dt>Client ID</dt><dd><${CopyField} value=${c.client_id} label="Client ID" /></dd></div>
      ${shown.client_secret && html`<div><dt>Client secret</dt><dd><span id="client-secret"><${CopyField} value=${shown.client_secret} label="Client secret" /></span></dd></div>`}
      <div><dt>Scope</dt><dd><${CopyField} value=${shown.scope} label="Scope" /></dd></div>
      ${c.redirect_uris && c.redirect_uris.length > 0 && html`<div><dt>Redirect URIs</dt><dd>${c.redirect_uris.map((u) => html`<div class="value mono">${u}</div>`)}</dd></div>`}
    </dl>
    ${onDone && html`<button type="button" class="btn" onClick=${onDone}>I have stored it</button>`}
  </div>`;
}

const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);

/** Register-a-client form (`forIdp`: a secret client, no choice of method; with
 *  `redirectDefault`, the IdP's redirect URI to edit: an authorization code client). */
export function RegisterClient({ slug, defaultName = '', onRegistered, idPrefix = 'oc', forIdp = false, redirectDefault = null }) {
  const [name, setName] = useState(defaultName);
  const [method, setMethod] = useState('client_secret');
  const [keys, setKeys] = useState('');
  const [jwksUri, setJwksUri] = useState('');
  const [redirects, setRedirects] = useState(redirectDefault || '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const body = { name: name.trim(), method };
      if (method === 'private_key_jwt') { body.public_keys = keys || undefined; body.jwks_uri = jwksUri.trim() || undefined; }
      body.redirect_uris = lines(redirects);
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
    ${redirectDefault !== null ? html`<div class="field wide"><label for=${`${idPrefix}-redirect`}>Redirect URI</label>
      <input id=${`${idPrefix}-redirect`} required value=${redirects} onInput=${(e) => setRedirects(e.target.value)} aria-describedby=${`${idPrefix}-redirect-help`} />
      <div class="muted small" id=${`${idPrefix}-redirect-help`}>Replace <span class="mono">&lt;your-org&gt;</span> with your Okta org's name (the part before .okta.com, or your own Okta domain) and <span class="mono">&lt;app-name&gt;</span> with the app's name as it appears in the Okta address bar on the app's page. Unsure? Register your best guess: if Okta sends another one, scimd's error page shows it, and you change it on the Tokens page.</div></div>`
    : !forIdp && html`<div class="field"><label for=${`${idPrefix}-redirect`}>Redirect URIs (optional)</label>
      <textarea id=${`${idPrefix}-redirect`} rows="2" value=${redirects} placeholder="https://acme.okta.com/admin/app/cpc/myapp/oauth/callback" onInput=${(e) => setRedirects(e.target.value)}></textarea>
      <div class="muted small">One per line. With one, the client uses the authorization code grant (Okta's “OAuth 2”); without, client credentials.</div></div>`}
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
  const [uris, setUris] = useState((c.redirect_uris || []).join('\n'));
  const saveUris = () => act(async () => {
    await api('PUT', `/api/tenants/${enc(slug)}/oauth-clients/${enc(c.id)}/redirect-uris`, { redirect_uris: lines(uris) });
    announce(`Redirect URIs of ${c.name} saved`);
  });
  const codeGrant = (c.redirect_uris || []).length > 0;
  const live = c.status !== 'revoked';
  return html`<tr>
    <th scope="row">${c.name}<div class="muted mono">${c.client_id}</div></th>
    <td data-label="Authentication">${c.method === 'private_key_jwt' ? (c.jwks_uri ? `private_key_jwt (${c.jwks_uri})` : 'private_key_jwt (registered key)') : 'client secret'}
      <div class="muted small">${codeGrant ? html`authorization code (${c.live_grants} live ${c.live_grants === 1 ? 'grant' : 'grants'}); redirect URIs: ${c.redirect_uris.map((u) => html`<span class="mono">${u}</span> `)}` : 'client credentials'}</div></td>
    <td data-label="Status">${statusBadge(c)}</td>
    <td data-label="Live tokens">${c.live_tokens}</td>
    <td data-label="Last used">${c.last_used ? html`<${Time} iso=${c.last_used} /><div class="muted small">${c.last_used_agent || ''}${c.last_used_ip ? ` · ${c.last_used_ip}` : ''}</div>` : html`<${Badge} kind="warn">never used<//>`}</td>
    <td class="actions-cell" data-label="Actions">
      ${live && mode === null && html`${c.method === 'client_secret' && html`<button type="button" class="btn small" onClick=${() => setMode('rotate')}>Rotate secret…</button> `}<button type="button" class="btn small" onClick=${() => setMode('uris')}>Redirect URIs…</button> <button type="button" class="btn small danger" onClick=${() => setMode('revoke')}>Revoke…</button>`}
      ${mode === 'uris' && html`<div class="confirm" role="group" aria-label=${`Redirect URIs of ${c.name}`}>
        <label for=${`uris-${c.id}`}>Redirect URIs, one per line (none: client credentials)</label>
        <textarea id=${`uris-${c.id}`} rows="3" value=${uris} onInput=${(e) => setUris(e.target.value)}></textarea>
        <button type="button" class="btn small primary" disabled=${busy} onClick=${saveUris}>Save redirect URIs</button> <button type="button" class="btn small" onClick=${() => setMode(null)}>Cancel</button></div>`}
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
    <p class="muted">IdPs that use the OAuth 2.0 client credentials grant, or the authorization code grant (Okta's “OAuth 2”; give the client a redirect URI), get short-lived access tokens from this tenant's token endpoint instead of a long-lived token.</p>
    ${d && html`<dl class="values" id="oauth-endpoints">
      <div><dt>Token endpoint</dt><dd><${CopyField} value=${d.token_endpoint} label="Token endpoint" /></dd></div>
      <div><dt>Authorization endpoint</dt><dd><${CopyField} value=${d.authorization_endpoint} label="Authorization endpoint" /></dd></div>
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

/** Okta's redirect URI pattern: the admin puts in the org and the app's name. */
export const OKTA_REDIRECT = 'https://<your-org>.okta.com/admin/app/cpc/<app-name>/oauth/callback';

/** Okta's "Authentication Mode: OAuth 2": the authorization code grant. A client with Okta's
 *  redirect URI, the four values, then "Authenticate with …", which opens scimd's consent page. */
function OktaOAuthSetup({ slug, base, suggested }) {
  const [shown, setShown] = useState(null);
  const root = base.replace(/\/scim\/v2$/, '/oauth');
  const secretOrHint = (v, label) => (shown ? html`<${CopyField} value=${v} label=${label} />` : html`<span class="muted">the ${label.toLowerCase()} from the step above</span>`);
  return html`<li><h2>Register an OAuth client for Okta</h2>
      <p id="okta-oauth">Okta's <strong>OAuth 2</strong> mode is the OAuth 2.0 <strong>authorization code</strong> grant: when you click “Authenticate with …” in Okta, your browser opens scimd, you sign in as a scimd admin and allow Okta in; Okta then gets an access token and a refresh token, and renews the access token on its own.</p>
      ${shown ? html`<${ClientPanel} shown=${shown} />` : suggested && html`<${RegisterClient} key=${suggested} slug=${slug} defaultName=${suggested} idPrefix="setup-oc" forIdp=${true} redirectDefault=${OKTA_REDIRECT} onRegistered=${setShown} />`}
    </li>
    <li><h2>Paste these values</h2>
      <p>On the app's Provisioning tab → Integration → Edit, set <strong>Authentication Mode</strong> to <strong>OAuth 2</strong>.</p>
      <dl class="values" id="setup-oauth-values">
        <div><dt>SCIM connector base URL</dt><dd><${CopyField} value=${base} label="SCIM connector base URL" /></dd></div>
        <div><dt>Access token endpoint URI</dt><dd><${CopyField} value=${`${root}/token`} label="Access token endpoint URI" /></dd></div>
        <div><dt>Authorization endpoint URI</dt><dd><${CopyField} value=${`${root}/authorize`} label="Authorization endpoint URI" /></dd></div>
        <div><dt>Client ID</dt><dd>${secretOrHint(shown && shown.client.client_id, 'Client ID')}</dd></div>
        <div><dt>Client Secret</dt><dd>${secretOrHint(shown && shown.client_secret, 'Client Secret')}</dd></div>
      </dl>
    </li>
    <li><h2>Authenticate with scimd</h2>
      <p>Click <strong>Authenticate with …</strong> under the OAuth settings. A scimd window opens: sign in as a scimd admin if asked, check that the client is “${shown ? shown.client.name : 'the one you registered'}” and the tenant “${slug}”, and click <strong>Allow</strong>. Okta shows that it is authenticated; click <strong>Save</strong>.</p>
      <p class="muted small">scimd's access tokens live an hour and Okta renews them with its refresh token. If scimd shows “redirect_uri … is not registered”, the page names the redirect URI Okta sent: set it on the Tokens page (Redirect URIs…) and authenticate again. Revoking the client on the Tokens page ends Okta's access at once.</p>
    </li>`;
}

/** The OAuth variant of a setup guide: Entra's client credentials grant, Okta's authorization
 *  code grant. */
export function OAuthSetup({ slug, idp, base, suggested }) {
  const [shown, setShown] = useState(null);
  if (idp === 'okta') return html`<${OktaOAuthSetup} slug=${slug} base=${base} suggested=${suggested} />`;
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
