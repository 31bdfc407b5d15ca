// LDAP: the values to paste into an application that reads the directory over LDAP (URL, base
// DN, bind DN, filters), worked examples for GitLab, Grafana and sssd, and the tenant's
// service accounts (created with the secret shown once; removed).
import { html, useState, api, enc, useLoad, ErrorBox, Loading, Empty, CopyButton, CopyField, TableWrap, PageTitle, Time, announce } from '../lib.js';

function Values({ o, url }) {
  const rows = [
    ['URL', url],
    ['Base DN', o.base_dn],
    ['Users', o.people_dn],
    ['Groups', o.groups_dn],
    ['User filter', o.user_filter],
    ['Group filter', o.group_filter],
  ];
  return html`<section class="card" aria-labelledby="l-values"><h2 id="l-values">Values for your application</h2>
    <${TableWrap} label="LDAP values"><table><tbody>
      ${rows.map(([k, v]) => html`<tr><th scope="row">${k}</th><td><${CopyField} value=${v} label=${k} /></td></tr>`)}
    </tbody></table><//>
    <p class="muted">Users are <code>${`uid=<userName>,${o.people_dn}`}</code> and groups <code>${`cn=<displayName>,${o.groups_dn}`}</code>. The directory is read-only: changes are made in the IdP. Users bind with the password the IdP provisions (in Okta: <em>Sync password</em> in the app's provisioning settings).</p>
  </section>`;
}

function Examples({ o, url, bindDn }) {
  const gitlab = `main:
  label: 'scimd'
  host: '${new URL(url.replace(/^ldaps?/, 'http')).hostname}'
  port: ${new URL(url.replace(/^ldaps?/, 'http')).port}
  uid: 'uid'
  bind_dn: '${bindDn}'
  password: '<secret>'
  encryption: '${url.startsWith('ldaps') ? 'simple_tls' : 'plain'}'
  base: '${o.people_dn}'
  user_filter: '(objectClass=inetOrgPerson)'
  attributes: { username: ['uid'], email: ['mail'], name: 'cn' }`;
  const grafana = `[[servers]]
host = "${new URL(url.replace(/^ldaps?/, 'http')).hostname}"
port = ${new URL(url.replace(/^ldaps?/, 'http')).port}
use_ssl = ${url.startsWith('ldaps')}
bind_dn = "${bindDn}"
bind_password = "<secret>"
search_filter = "(uid=%s)"
search_base_dns = ["${o.people_dn}"]
group_search_filter = "(&(objectClass=groupOfNames)(member=%s))"
group_search_base_dns = ["${o.groups_dn}"]
[servers.attributes]
username = "uid"
email = "mail"
name = "givenName"
surname = "sn"
member_of = "memberOf"`;
  const sssd = `[domain/scimd]
id_provider = ldap
auth_provider = ldap
ldap_uri = ${url}
ldap_search_base = ${o.base_dn}
ldap_user_search_base = ${o.people_dn}
ldap_group_search_base = ${o.groups_dn}
ldap_default_bind_dn = ${bindDn}
ldap_default_authtok = <secret>
ldap_schema = rfc2307bis
ldap_group_member = member
ldap_user_object_class = posixAccount
ldap_group_object_class = posixGroup`;
  const block = (id, title, where, text) => html`<section class="card" aria-labelledby=${id}><h3 id=${id}>${title}</h3>
    <p class="muted">${where}</p><pre class="mono" tabindex="0" data-copy-source=${text}>${text}</pre><${CopyButton} text=${text} name=${`Copy the ${title} example`} /></section>`;
  return html`<section aria-labelledby="l-examples"><h2 id="l-examples">Worked examples</h2>
    ${block('ex-gitlab', 'GitLab', 'gitlab.rb: gitlab_rails[\'ldap_servers\'] = YAML.load <<-EOS … EOS', gitlab)}
    ${block('ex-grafana', 'Grafana', '/etc/grafana/ldap.toml (and [auth.ldap] enabled = true in grafana.ini)', grafana)}
    ${block('ex-sssd', 'sssd', '/etc/sssd/sssd.conf (mode 0600); uid and gid numbers come from scimd and stay stable', sssd)}
  </section>`;
}

function Accounts({ slug, accounts, onChanged }) {
  const [name, setName] = useState('');
  const [created, setCreated] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const add = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const c = await api('POST', `/api/tenants/${enc(slug)}/ldap/accounts`, { name: name.trim() });
      setCreated(c); setName('');
      announce(`Service account ${c.name} created. Copy its secret now; it is shown only once.`);
      onChanged();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const remove = async (n) => {
    setError(null);
    try {
      await api('DELETE', `/api/tenants/${enc(slug)}/ldap/accounts/${enc(n)}`);
      announce(`Service account ${n} removed`);
      onChanged();
    } catch (err) { setError(err); }
  };
  return html`<section class="card" aria-labelledby="l-accounts"><h2 id="l-accounts">Service accounts</h2>
    <p class="muted">An application binds with a service account to search the directory. Each belongs to this tenant only and sees nothing of another.</p>
    ${created && html`<div class="notice secret" role="alert" aria-labelledby="l-secret-title">
      <h3 id="l-secret-title">Service account “${created.name}” — copy the secret now</h3>
      <p><strong>This is the only time scimd shows this secret.</strong> It stores only a hash.</p>
      <p>Bind DN: <${CopyField} value=${created.bind_dn} label="bind DN" /></p>
      <p class="secretline"><code data-copy-source=${created.secret}>${created.secret}</code> <${CopyButton} text=${created.secret} label="Copy secret" /></p>
      <button type="button" class="btn" onClick=${() => setCreated(null)}>I have stored it</button></div>`}
    <form class="row" onSubmit=${add}>
      <div class="field"><label for="l-name">Account name</label>
        <input id="l-name" required value=${name} placeholder="gitlab" onInput=${(e) => setName(e.target.value)} /></div>
      <div class="field actions"><button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Creating…' : 'Create service account'}</button></div>
    </form>
    <${ErrorBox} error=${error} title="The service account was not changed" />
    ${accounts.length === 0 ? html`<${Empty} title="No service accounts yet."><p>Create one for each application that reads the directory.</p><//>`
      : html`<${TableWrap} label="Service accounts"><table><thead><tr><th scope="col">Name</th><th scope="col">Bind DN</th><th scope="col">Created</th><th scope="col">Last bind</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead><tbody>
        ${accounts.map((a) => html`<tr><th scope="row">${a.name}<div class="muted mono">${a.prefix}…</div></th>
          <td data-label="Bind DN"><code>${a.bind_dn}</code></td>
          <td data-label="Created"><${Time} iso=${a.created} /></td>
          <td data-label="Last bind"><${Time} iso=${a.last_used} empty="never" /></td>
          <td><button type="button" class="btn small danger" aria-label=${`Remove ${a.name}`} onClick=${() => remove(a.name)}>Remove</button></td></tr>`)}
      </tbody></table><//>`}
  </section>`;
}

export function Ldap({ slug }) {
  const [tick, setTick] = useState(0);
  const { data: o, error } = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/ldap`), [slug, tick]);
  if (error) return html`<${PageTitle}>LDAP<//><${ErrorBox} error=${error} title="Could not load the LDAP settings" />`;
  if (!o) return html`<${PageTitle}>LDAP<//><${Loading} />`;
  const host = o.host || window.location.hostname;
  const url = o.tls_port ? `ldaps://${host}:${o.tls_port}` : `ldap://${host}:${o.port}`;
  const bindDn = `cn=<name>,ou=services,${o.base_dn}`;
  return html`<${PageTitle} sub="A read-only LDAP directory of this tenant's users and groups, for applications that do not speak SCIM.">LDAP<//>
    ${!o.enabled && html`<div class="notice" role="status"><strong>The LDAP directory is off.</strong> Set <code>[ldap] enabled = true</code> in scimd.toml (or <code>SCIMD_LDAP__ENABLED=true</code>) and restart scimd; the values below apply then.</div>`}
    <${Values} o=${o} url=${url} />
    <${Accounts} slug=${slug} accounts=${o.accounts} onChanged=${() => setTick((t) => t + 1)} />
    <${Examples} o=${o} url=${url} bindDn=${bindDn} />`;
}
