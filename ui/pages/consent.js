// The consent page of the OAuth authorization code grant (Okta's "OAuth 2" mode): the tenant's
// authorization endpoint checked the client and redirect URI and sent the browser here; the
// signed-in admin sees which client asks for which tenant and scope, and allows or denies.
// Either answer comes back from the API as the URL to send the browser to.
import { html, useState, api, enc, useLoad, ErrorBox, Loading, PageTitle } from '../lib.js';

export function Consent({ search }) {
  const tenant = search.get('tenant') || 'default';
  // The authorization request as the endpoint passed it on, for the API to check again.
  const rest = new URLSearchParams(search);
  rest.delete('tenant');
  const request = rest.toString();
  const view = useLoad(() => api('GET', `/api/tenants/${enc(tenant)}/oauth-consent?${request}`), [tenant, request]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const answer = async (allow) => {
    setBusy(true); setError(null);
    try {
      const r = await api('POST', `/api/tenants/${enc(tenant)}/oauth-consent`, { request, allow });
      window.location.assign(r.redirect);
    } catch (err) { setError(err); setBusy(false); }
  };
  const v = view.data;
  let host = '';
  try { host = v ? new URL(v.redirect_uri).host : ''; } catch { host = ''; }
  return html`<${PageTitle} sub="An application asks for access to scimd on your behalf.">Authorize an OAuth client<//>
    <${ErrorBox} error=${view.error} title="This authorization request cannot be answered" />
    ${view.loading && !v ? html`<${Loading} what="Checking the authorization request" />` : v && html`<section class="card" aria-labelledby="consent-q" id="consent">
      <h2 id="consent-q">Allow “${v.client_name}” to provision tenant “${v.tenant}”?</h2>
      <dl class="values">
        <div><dt>Client</dt><dd><span class="value">${v.client_name}</span> <span class="muted mono">${v.client_id}</span></dd></div>
        <div><dt>Tenant</dt><dd><span class="value">${v.tenant}</span>${v.tenant_display_name && v.tenant_display_name !== v.tenant ? html` <span class="muted">(${v.tenant_display_name})</span>` : ''}</dd></div>
        <div><dt>Scope</dt><dd><span class="value mono">${v.scope}</span><div class="muted small">Read and change the users and groups of tenant “${v.tenant}” through its SCIM API, renewed with refresh tokens until you revoke the client.</div></dd></div>
        <div><dt>Answer goes to</dt><dd><span class="value mono">${v.redirect_uri}</span></dd></div>
      </dl>
      <p>Allow only if you started this from ${host || 'the application'} yourself, for example with Okta's “Authenticate with …” button.</p>
      <div class="row">
        <button type="button" class="btn primary" disabled=${busy} onClick=${() => answer(true)}>Allow</button>
        <button type="button" class="btn" disabled=${busy} onClick=${() => answer(false)}>Deny</button>
      </div>
      <${ErrorBox} error=${error} title="The answer was not sent" />
    </section>`}`;
}
