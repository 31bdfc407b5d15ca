// Tenant settings: strict mode, Interoperability Profile mode, passwords, deletion safety and the tenant's custom schema extensions
// (RFC 7643 §7 JSON).
import { html, useState, api, enc, useLoad, ErrorBox, Loading, Empty, TableWrap, PageTitle, announce } from '../lib.js';

const EXAMPLE = JSON.stringify({
  id: 'urn:ietf:params:scim:schemas:extension:CustomExtension:2.0:User',
  name: 'CustomExtension',
  description: 'Attributes added in the IdP\'s attribute mapping',
  attributes: [
    { name: 'costCenter', type: 'string', uniqueness: 'server' },
    { name: 'badgeNumber', type: 'integer' },
  ],
}, null, 2);

function Strict({ slug, settings, onSaved }) {
  const [error, setError] = useState(null);
  const [strictOn, setStrictOn] = useState(settings.strict);
  const toggle = async (e) => {
    const strict = e.target.checked;
    setStrictOn(strict); setError(null);
    try {
      await api('PATCH', `/api/tenants/${enc(slug)}/settings`, { strict });
      announce(strict ? 'Strict mode on' : 'Strict mode off');
      onSaved();
    } catch (err) { setStrictOn(!strict); setError(err); }
  };
  return html`<section class="card" aria-labelledby="s-strict"><h2 id="s-strict">Undeclared attributes</h2>
    <label><input type="checkbox" checked=${strictOn} onChange=${toggle} /> Strict: refuse attributes no schema of this tenant declares</label>
    <p class="muted">Off (the default), such attributes are ignored and reported in the Activity log, so one mapping mistake does not fail an IdP's whole provisioning job. On, the request gets 400 <code>invalidSyntax</code> naming the attribute.</p>
    <${ErrorBox} error=${error} title="The setting was not changed" /></section>`;
}

/** SCIM 2.0 Interoperability Profile mode (issue 27): exact where the default is tolerant. */
function InteropProfile({ slug, settings, onSaved }) {
  const [error, setError] = useState(null);
  const [on, setOn] = useState(settings.interop_profile);
  const toggle = async (e) => {
    const interop_profile = e.target.checked;
    setOn(interop_profile); setError(null);
    try {
      await api('PATCH', `/api/tenants/${enc(slug)}/settings`, { interop_profile });
      announce(interop_profile ? 'Interoperability Profile mode on' : 'Interoperability Profile mode off');
      onSaved();
    } catch (err) { setOn(!interop_profile); setError(err); }
  };
  return html`<section class="card" aria-labelledby="s-profile"><h2 id="s-profile">SCIM Interoperability Profile</h2>
    <label><input type="checkbox" checked=${on} onChange=${toggle} /> Profile mode: behave as the SCIM 2.0 Interoperability Profile requires</label>
    <p class="muted">On, this tenant is strict and also refuses PATCH operations without a <code>path</code> and values outside an attribute's <code>canonicalValues</code>; <code>replace</code> of a whole complex attribute such as <code>name</code> replaces it, and /ServiceProviderConfig advertises <code>interopProfileConformant</code>. Turn it on only for IdPs that follow the profile: Okta's and Entra's default integrations send path-less PATCH operations.</p>
    <${ErrorBox} error=${error} title="The setting was not changed" /></section>`;
}

/** Whether SCIM writes may carry `password` (kept hashed for LDAP binds); IPSIE's successor
 * profile forbids accepting them. */
function Passwords({ slug, settings, onSaved }) {
  const [error, setError] = useState(null);
  const [on, setOn] = useState(settings.accept_password);
  const toggle = async (e) => {
    const accept_password = e.target.checked;
    setOn(accept_password); setError(null);
    try {
      await api('PATCH', `/api/tenants/${enc(slug)}/settings`, { accept_password });
      announce(accept_password ? 'Passwords accepted' : 'Passwords refused');
      onSaved();
    } catch (err) { setOn(!accept_password); setError(err); }
  };
  return html`<section class="card" aria-labelledby="s-passwords"><h2 id="s-passwords">Passwords</h2>
    <label><input type="checkbox" checked=${on} onChange=${toggle} /> Accept passwords the IdP sends (stored hashed, for LDAP binds)</label>
    <p class="muted">Off, a create or update carrying <code>password</code> gets 400 naming this setting, and /Schemas no longer lists it, as IPSIE's SCIM profile asks. This tenant's users then cannot bind over LDAP with a new password.</p>
    <${ErrorBox} error=${error} title="The setting was not changed" /></section>`;
}

/** Which credentials the tenant takes (IPSIE's SCIM profile: OAuth only, clients signing
 * assertions): two switches saved as they change. */
function Authentication({ slug, settings, onSaved }) {
  const [error, setError] = useState(null);
  const [on, setOn] = useState({ require_oauth: settings.require_oauth, require_private_key_jwt: settings.require_private_key_jwt });
  const toggle = (key, what) => async (e) => {
    const value = e.target.checked;
    setOn({ ...on, [key]: value }); setError(null);
    try {
      await api('PATCH', `/api/tenants/${enc(slug)}/settings`, { [key]: value });
      announce(`${what} ${value ? 'on' : 'off'}`);
      onSaved();
    } catch (err) { setOn({ ...on, [key]: !value }); setError(err); }
  };
  return html`<section class="card" aria-labelledby="s-auth"><h2 id="s-auth">Authentication</h2>
    <label><input type="checkbox" checked=${on.require_oauth} onChange=${toggle('require_oauth', 'OAuth only')} /> OAuth only: refuse SCIM bearer tokens on this tenant's SCIM API</label>
    <p class="muted">On, only access tokens from this tenant's OAuth token endpoint (or an issuer it trusts) are taken; a SCIM token gets 401 naming this setting. Events tokens keep reading the feed. Set up the IdP's OAuth first (Setup page).</p>
    <label><input type="checkbox" checked=${on.require_private_key_jwt} onChange=${toggle('require_private_key_jwt', 'Signed client assertions only')} /> Signed client assertions only: refuse client secrets at the token endpoint</label>
    <p class="muted">On, OAuth clients authenticate with <code>private_key_jwt</code> (RFC 7523); a client secret gets <code>invalid_client</code> naming this setting. Entra's "OAuth2 Client Credentials Grant" sends a secret: leave this off for Entra.</p>
    <${ErrorBox} error=${error} title="The setting was not changed" /></section>`;
}

/** Deletion safety (issue 25): how long deleted users and groups stay restorable, and when a
 * burst of deletions and deactivations raises the mass-change alarm. */
function DeletionSafety({ slug, settings, onSaved }) {
  const [form, setForm] = useState({
    tombstone_retention_days: String(settings.tombstone_retention_days),
    alarm_threshold: String(settings.alarm_threshold),
    alarm_window_secs: String(settings.alarm_window_secs),
  });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const field = (key) => (e) => setForm({ ...form, [key]: e.target.value });
  const save = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const changes = Object.fromEntries(Object.entries(form).map(([k, v]) => [k, Number(v)]));
      await api('PATCH', `/api/tenants/${enc(slug)}/settings`, changes);
      announce('Deletion safety settings saved');
      onSaved();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<section class="card" aria-labelledby="s-deletion"><h2 id="s-deletion">Deleted users and groups</h2>
    <form class="row" onSubmit=${save}>
      <div class="field"><label for="s-retention">Restorable for (days)</label>
        <input id="s-retention" type="number" min="1" max="3650" required value=${form.tombstone_retention_days} onInput=${field('tombstone_retention_days')} /></div>
      <div class="field"><label for="s-threshold">Alarm after this many removals</label>
        <input id="s-threshold" type="number" min="0" required value=${form.alarm_threshold} onInput=${field('alarm_threshold')} /></div>
      <div class="field"><label for="s-window">within (seconds)</label>
        <input id="s-window" type="number" min="10" max="86400" required value=${form.alarm_window_secs} onInput=${field('alarm_window_secs')} /></div>
      <div class="field actions"><button class="btn" type="submit" disabled=${busy}>Save</button></div>
    </form>
    <p class="muted">Deleted users and groups can be restored on the Deleted page until then. Deletions plus deactivations over the threshold raise an alarm on the dashboard with one Revert button (0 turns it off); SCIM answers never change because of it.</p>
    <${ErrorBox} error=${error} title="The settings were not changed" /></section>`;
}

function Declare({ slug, onSaved }) {
  const [resourceType, setResourceType] = useState('User');
  const [text, setText] = useState(EXAMPLE);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setError(null); setDone(null);
    let schema;
    try { schema = JSON.parse(text); } catch (err) {
      setError(new Error(`The schema is not valid JSON: ${err.message}`));
      return;
    }
    setBusy(true);
    try {
      const x = await api('POST', `/api/tenants/${enc(slug)}/extensions`, { resourceType, schema });
      setDone(x); announce(`Extension ${x.id} declared`);
      onSaved();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  return html`<section class="card" aria-labelledby="s-declare"><h2 id="s-declare">Declare or change an extension</h2>
    <p class="muted">Paste the schema in RFC 7643 §7 form (as <code>/Schemas</code> serves it). Declaring an id that exists changes that extension; a change that would make stored values invalid is refused.</p>
    <form onSubmit=${submit}>
      <div class="field"><label for="ext-type">Resource type</label>
        <select id="ext-type" value=${resourceType} onChange=${(e) => setResourceType(e.target.value)}><option>User</option><option>Group</option></select></div>
      <div class="field"><label for="ext-schema">Schema JSON</label>
        <textarea id="ext-schema" rows="14" class="mono" spellcheck="false" value=${text} onInput=${(e) => setText(e.target.value)}></textarea></div>
      <div class="field actions"><button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Declaring…' : 'Declare extension'}</button></div>
    </form>
    <${ErrorBox} error=${error} title="The extension was not declared" />
    ${done && html`<div class="notice ok" role="status">Declared <strong>${done.id}</strong> for ${done.resourceType}: ${done.attributes.join(', ')}. It is in this tenant's /Schemas now.</div>`}
  </section>`;
}

function Extensions({ slug, list, onSaved }) {
  const [error, setError] = useState(null);
  const remove = async (id) => {
    setError(null);
    try {
      await api('DELETE', `/api/tenants/${enc(slug)}/extensions/${enc(id)}`);
      announce(`Extension ${id} removed`);
      onSaved();
    } catch (err) { setError(err); }
  };
  return html`<section aria-labelledby="s-ext"><h2 id="s-ext">Schema extensions</h2>
    <${ErrorBox} error=${error} title="The extension was not removed" />
    ${list.length === 0 ? html`<${Empty} title="This tenant declares no extensions."><p>Declare one below when your IdP sends attributes of its own (Entra custom attributes, Okta app attributes).</p><//>`
      : html`<${TableWrap} label="Extensions"><table>
        <thead><tr><th scope="col">Schema</th><th scope="col">For</th><th scope="col">Attributes</th><th scope="col">Remove</th></tr></thead>
        <tbody>${list.map((x) => html`<tr key=${x.id}><th scope="row" class="mono">${x.id}</th><td>${x.resourceType}</td><td>${x.attributes.join(', ')}</td>
          <td><button type="button" class="btn" onClick=${() => remove(x.id)} aria-label=${`Remove ${x.id}`}>Remove</button></td></tr>`)}</tbody>
      </table><//>`}
  </section>`;
}

export function Settings({ slug }) {
  const settings = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/settings`), [slug]);
  const exts = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/extensions`), [slug]);
  const reload = () => { settings.reload(); exts.reload(); };
  return html`<${PageTitle} sub="How this tenant treats what its IdP sends.">Settings<//>
    ${settings.error ? html`<${ErrorBox} error=${settings.error} title="The settings could not be loaded" />`
      : !settings.data ? html`<${Loading} what="Loading settings" />`
      : html`<${Strict} slug=${slug} settings=${settings.data} onSaved=${reload} />
        <${InteropProfile} slug=${slug} settings=${settings.data} onSaved=${reload} />
        <${Passwords} slug=${slug} settings=${settings.data} onSaved=${reload} />
        <${Authentication} slug=${slug} settings=${settings.data} onSaved=${reload} />
        <${DeletionSafety} slug=${slug} settings=${settings.data} onSaved=${reload} />`}
    ${exts.error ? html`<${ErrorBox} error=${exts.error} title="The extensions could not be loaded" />`
      : !exts.data ? html`<${Loading} what="Loading extensions" />`
      : html`<${Extensions} slug=${slug} list=${exts.data} onSaved=${reload} />`}
    <${Declare} slug=${slug} onSaved=${reload} />`;
}
