// Setup guides: the exact values to paste into each IdP for this instance and tenant, a token
// created on the spot, then "waiting for first request…" that turns green when it arrives.
import { html, useState, useEffect, api, enc, qs, instance, scimBase, tenantPath, Time, Badge, CopyField, PageTitle, IDPS, guessIdp, idpName, Reachability } from '../lib.js';
import { CreateToken, SecretPanel } from './tokens.js';
import { OAuthSetup } from './oauth.js';

const TOKEN = '(the token you create below)';

/** Per IdP: where to go, then [field as the IdP labels it, value, note] rows, then mappings. */
function guide(idp, base) {
  switch (idp) {
    case 'okta': return {
      where: 'Okta Admin Console → Applications → your app (SAML or OIDC, created with the App Integration Wizard) → General → App Settings → Provisioning: SCIM → Save; then the Provisioning tab → Integration → Edit.',
      fields: [
        ['SCIM connector base URL', base, 'No trailing slash.'],
        ['Unique identifier field for users', 'userName', 'Okta filters userName eq "…" before every create.'],
        ['Supported provisioning actions', 'Push New Users, Push Profile Updates, Push Groups', 'Tick "Import New Users and Profile Updates" too if you want imports.'],
        ['Authentication Mode', 'HTTP Header', null],
        ['HTTP Header → Authorization', TOKEN, 'Paste the token only; Okta sends it as "Authorization: Bearer <token>".'],
      ],
      mappings: [['userName', 'Username (user.login or user.email)'], ['name.givenName', 'user.firstName'], ['name.familyName', 'user.lastName'], ['emails[type eq "work"].value', 'user.email'], ['displayName', 'user.displayName'], ['active', 'set by assignment / deactivation']],
      after: 'Click "Test Connector Configuration" (Okta sends GET /Users?startIndex=1&count=2), Save, then under "To App" enable Create Users, Update User Attributes and Deactivate Users. Assign a user to send the first real request.',
    };
    case 'entra': return {
      where: 'Microsoft Entra admin center → Enterprise applications → New application → Create your own application ("Integrate any other application you don\'t find in the gallery") → Provisioning → Get started → Provisioning Mode: Automatic → Admin Credentials.',
      fields: [
        ['Tenant URL', base, 'Entra appends /Users and /Groups.'],
        ['Secret Token', TOKEN, 'Entra sends it as "Authorization: Bearer <token>".'],
        ['Matching attribute (Users)', 'userName ← userPrincipalName', 'The default; Entra probes userName eq "<random GUID>" on Test Connection.'],
        ['Matching attribute (Groups)', 'displayName ← displayName', 'Group names must be unique in the tenant.'],
      ],
      mappings: [['userName', 'userPrincipalName'], ['active', 'Switch([IsSoftDeleted], , "False", "True", "True", "False")'], ['displayName', 'displayName'], ['emails[type eq "work"].value', 'mail'], ['name.givenName', 'givenName'], ['name.familyName', 'surname'], ['externalId', 'mailNickname'], ['members', 'members (groups)']],
      after: 'Click "Test Connection", Save, set Scope and Provisioning Status: On. The first cycle can take up to 40 minutes; "Provision on demand" sends a request at once.',
    };
    case 'onelogin': return {
      where: 'OneLogin Administration → Applications → Add App → "SCIM Provisioner with SAML (SCIM v2 Enterprise)" → Configuration tab.',
      fields: [
        ['SCIM Base URL', base, null],
        ['SCIM Bearer Token', TOKEN, 'OneLogin sends "Authorization: Bearer <token>".'],
        ['SCIM JSON Template', 'the SCIM v2 Enterprise default', 'The "Core Schema" template sends SCIM 1.0 schemas; prefer the v2 Enterprise one.'],
        ['SCIM Username (Parameters)', 'Email', 'Becomes the userName scimd matches on.'],
      ],
      mappings: [['userName', 'scimusername (Email)'], ['name.givenName', 'First Name'], ['name.familyName', 'Last Name'], ['emails', 'Email'], ['active', 'user status']],
      after: 'Click "Enable" under API Connection, then on the Provisioning tab tick "Enable provisioning" and choose what deleting or suspending a user does (scimd keeps deactivated users readable).',
    };
    case 'jumpcloud': return {
      where: 'JumpCloud Admin Portal → SSO Applications → your custom app → Identity Management → Configuration (SCIM 2.0).',
      fields: [
        ['Base URL', base, 'Exactly this: no trailing slash.'],
        ['Token Key', TOKEN, null],
        ['Authorization type', 'Bearer Token', null],
        ['Test User Email', 'an address no user in this tenant has', 'Test Connection creates and then deletes a real test user and group.'],
      ],
      mappings: [['userName', 'email'], ['name.givenName', 'firstname'], ['name.familyName', 'lastname'], ['emails[type eq "work"].value', 'email'], ['active', 'account state'], ['groups', 'group membership (enable Group Management)']],
      after: 'Click "Test Connection", then "Activate" and Save. Bind user groups to the application to provision their members.',
    };
    default: return {
      where: 'Google Admin console → Apps → Web and mobile apps → your SAML app → Auto-provisioning. Google offers auto-provisioning for catalogue apps; for a custom app your edition must allow "Endpoint URL" and "Access token".',
      fields: [
        ['Endpoint URL', base, null],
        ['Access token', TOKEN, 'Sent as "Authorization: Bearer <token>".'],
        ['App attribute for the user name', 'userName ← Primary email', null],
      ],
      mappings: [['userName', 'Primary email'], ['name.givenName', 'First name'], ['name.familyName', 'Last name'], ['emails[type eq "work"].value', 'Primary email'], ['active', 'set by suspension / removal']],
      after: 'Choose the deprovisioning behaviour, then turn auto-provisioning on. Google probes GET /Users?count=1 first.',
    };
  }
}

/** Polls until `idp`'s first request reaches this tenant (request log when present, else the
 *  tokens' last use after the guide was opened, or a token whose agent or name names the IdP). */
function Waiting({ slug, idp, since, tokenId }) {
  const [seen, setSeen] = useState(null);
  const [checks, setChecks] = useState(0);
  useEffect(() => {
    let live = true; let timer = null;
    const poll = async () => {
      try {
        let hit = null;
        const r = await api('GET', `/api/log${qs({ tenant: slug, idp, per_page: 1 })}`);
        if (r.items && r.items.length) hit = { time: r.items[0].time, by: r.items[0].token ? r.items[0].token.name : idpName(idp), status: r.items[0].status };
        // With the request log turned off, a token's recorded first use says it too.
        if (!hit) {
          const tokens = await api('GET', `/api/tenants/${enc(slug)}/tokens`);
          const t = tokens.find((x) => x.last_used && (x.id === tokenId || guessIdp(x.last_used_agent) === idp || (guessIdp(x.name) === idp && Date.parse(x.last_used) >= Date.parse(since))));
          if (t) hit = { time: t.last_used, by: t.name, agent: t.last_used_agent };
        }
        if (!live) return;
        if (hit) { setSeen(hit); return; }
        setChecks((c) => c + 1);
      } catch { /* keep polling; a transient error must not stop the wait */ }
      if (live) timer = setTimeout(poll, 3000);
    };
    poll();
    return () => { live = false; clearTimeout(timer); };
  }, [slug, idp, tokenId]);
  return html`<div class=${`waiting ${seen ? 'done' : ''}`} role="status" aria-live="polite" id="first-request">
    ${seen ? html`<p><${Badge} kind="good">connected<//> <strong>First request from ${idpName(idp)} received</strong> <${Time} iso=${seen.time} /> with token ${seen.by}${seen.agent ? ` (${seen.agent})` : ''}. Users appear under <a href=${tenantPath(slug, 'users')}>Users</a> as they are provisioned.</p>`
      : html`<p><span class="spinner" aria-hidden="true"></span> <strong>Waiting for the first request from ${idpName(idp)}…</strong> <span class="muted small">checked ${checks} ${checks === 1 ? 'time' : 'times'}; a token’s first use is recorded within about 10 seconds.</span></p>`}
  </div>`;
}

/** `wanted`, or the first of `wanted-2`, `wanted-3`, … that no token of the tenant has. */
function freeName(wanted, taken) {
  if (!taken.includes(wanted)) return wanted;
  for (let n = 2; ; n += 1) if (!taken.includes(`${wanted}-${n}`)) return `${wanted}-${n}`;
}

export function Setup({ slug, idp }) {
  const [origin, setOrigin] = useState(null);
  const [issued, setIssued] = useState(null);
  const [suggested, setSuggested] = useState(null);
  const [since] = useState(() => new Date().toISOString());
  // Entra and Okta can also authenticate with OAuth 2.0 (issue 28).
  const [auth, setAuth] = useState('token');
  useEffect(() => { instance().then((i) => setOrigin(i.origin)); }, []);
  useEffect(() => setIssued(null), [idp, slug]);
  const known = IDPS.find((i) => i.id === idp) || IDPS[0];
  // A second visit must not suggest the name the first one used.
  useEffect(() => {
    let live = true;
    const wanted = `${known.id}-${slug}`;
    setSuggested(null);
    api('GET', `/api/tenants/${enc(slug)}/tokens`)
      .then((tokens) => { if (live) setSuggested(freeName(wanted, tokens.map((t) => t.name))); })
      .catch(() => { if (live) setSuggested(wanted); });
    return () => { live = false; };
  }, [slug, known.id, issued]);
  const base = origin ? scimBase(origin, slug) : '';
  const g = guide(known.id, base);
  return html`<${PageTitle} sub=${`Connect an identity provider to tenant “${slug}”.`}>Set up ${known.name}<//>
    <nav aria-label="Identity providers" class="tabs"><ul>${IDPS.map((i) => html`<li><a href=${tenantPath(slug, `setup/${i.id}`)} aria-current=${i.id === known.id ? 'page' : undefined}>${i.name}</a></li>`)}</ul></nav>
    ${origin && html`
    <${Reachability} base=${base} />
    ${(known.id === 'entra' || known.id === 'okta') && html`<fieldset class="row" id="setup-auth"><legend>Authentication</legend>
      <label><input type="radio" name="setup-auth" value="token" checked=${auth === 'token'} onChange=${() => setAuth('token')} /> Bearer token</label>
      <label><input type="radio" name="setup-auth" value="oauth" checked=${auth === 'oauth'} onChange=${() => setAuth('oauth')} /> ${known.id === 'okta' ? 'OAuth 2 (authorization code)' : 'OAuth 2.0 client credentials'}</label>
    </fieldset>`}
    <ol class="steps">
      <li><h2>Open the provisioning settings</h2><p>${g.where}</p></li>
      ${auth === 'oauth' && (known.id === 'entra' || known.id === 'okta') ? html`<${OAuthSetup} slug=${slug} idp=${known.id} base=${base} suggested=${suggested} />` : html`
      <li><h2>Create a token for ${known.name}</h2>
        ${issued ? html`<${SecretPanel} issued=${issued} />` : suggested && html`<${CreateToken} key=${suggested} slug=${slug} defaultName=${suggested} idPrefix="setup-tok" forIdp=${true} onCreated=${setIssued} />`}
      </li>
      <li><h2>Paste these values</h2>
        <dl class="values" id="setup-values">${g.fields.map(([k, v, note]) => html`<div>
          <dt>${k}</dt>
          <dd>${v === TOKEN ? (issued ? html`<${CopyField} value=${issued.secret} label=${k} />` : html`<span class="muted">the token from step 2</span>`)
            : v === base ? html`<${CopyField} value=${v} label=${k} />`
              // A setting to choose or type as described, not a value to paste: no copy button.
              : html`<span class="value">${v}</span>`}
            ${note && html`<div class="muted small">${note}</div>`}</dd></div>`)}</dl>
        <h3>Attribute mappings</h3>
        <table class="compact"><thead><tr><th scope="col">scimd (SCIM attribute)</th><th scope="col">${known.name} attribute</th></tr></thead>
          <tbody>${g.mappings.map(([a, b]) => html`<tr><td class="mono">${a}</td><td>${b}</td></tr>`)}</tbody></table>
      </li>`}
      <li><h2>Test and turn it on</h2><p>${g.after}</p></li>
      <li><h2>First request</h2><${Waiting} slug=${slug} idp=${known.id} since=${since} tokenId=${issued && issued.token.id} /></li>
    </ol>`}`;
}
