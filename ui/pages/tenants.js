// Tenants: create and list. Each tenant has its own SCIM base URL and tokens.
import { html, useState, useEffect, api, instance, scimBase, tenantPath, Time, ErrorBox, Loading, Empty, CopyField, TableWrap, PageTitle, announce } from '../lib.js';

// Browsers compile `pattern` with the `v` flag, where a literal dash must be escaped.
const SLUG_PATTERN = '[a-z0-9][a-z0-9\\-]*';

export function Tenants({ tenants, onChange }) {
  const [slug, setSlug] = useState('');
  const [name, setName] = useState('');
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState(null);
  const [origin, setOrigin] = useState(location.origin);
  useEffect(() => { instance().then((i) => setOrigin(i.origin)); }, []);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const t = await api('POST', '/api/tenants', { slug: slug.trim(), display_name: name.trim() || undefined });
      setCreated(t); setSlug(''); setName('');
      announce(`Tenant ${t.slug} created`);
      onChange();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };

  return html`<${PageTitle} sub="A tenant is a separate directory with its own SCIM URL and tokens: one per IdP or per environment.">Tenants<//>
    <section class="card" aria-labelledby="new-tenant">
      <h2 id="new-tenant">Create a tenant</h2>
      <form class="row" onSubmit=${submit}>
        <div class="field"><label for="tenant-slug">Slug</label>
          <input id="tenant-slug" required pattern=${SLUG_PATTERN} aria-describedby="slug-help" value=${slug} onInput=${(e) => setSlug(e.target.value)} />
          <small id="slug-help" class="muted">Lower-case letters, digits and dashes; part of the SCIM URL.</small></div>
        <div class="field"><label for="tenant-name">Display name (optional)</label>
          <input id="tenant-name" value=${name} onInput=${(e) => setName(e.target.value)} /></div>
        <div class="field actions"><button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Creating…' : 'Create tenant'}</button></div>
      </form>
      <${ErrorBox} error=${error} title="The tenant was not created" />
      ${created && html`<div class="notice ok" role="status">Tenant <strong>${created.slug}</strong> created. Next: <a href=${tenantPath(created.slug, 'tokens')}>create a token</a> or <a href=${tenantPath(created.slug, 'setup')}>follow a setup guide</a>.</div>`}
    </section>
    <section aria-labelledby="tenant-list">
      <h2 id="tenant-list">All tenants</h2>
      ${tenants === null ? html`<${Loading} what="Loading tenants" />`
        : tenants.length === 0 ? html`<${Empty} title="No tenants yet."><p>Create one above.</p><//>`
        : html`<${TableWrap} label="Tenants"><table>
            <thead><tr><th scope="col">Slug</th><th scope="col">Name</th><th scope="col">SCIM base URL</th><th scope="col">Created</th><th scope="col">Open</th></tr></thead>
            <tbody>${tenants.map((t) => html`<tr>
              <td><a href=${tenantPath(t.slug, 'users')}>${t.slug}</a></td><td>${t.display_name}</td>
              <td><${CopyField} value=${scimBase(origin, t.slug)} label=${`SCIM base URL of ${t.slug}`} /></td>
              <td><${Time} iso=${t.created} /></td>
              <td class="links"><a href=${tenantPath(t.slug, 'tokens')}>Tokens</a> <a href=${tenantPath(t.slug, 'setup')}>Setup</a></td></tr>`)}</tbody>
          </table><//>`}
    </section>`;
}
