// Users and groups of one tenant: server-side search, sort and paging (the API runs the SCIM
// filter engine, so 100k users stay fast), and detail pages with SCIM JSON, memberships,
// paged group members and history.
import { html, useState, useEffect, useRef, api, enc, qs, navigate, useLoad, Time, ErrorBox, Loading, Empty, Badge, Pager, TableWrap, PageTitle, tenantPath, idpName } from '../lib.js';

const USER_SORTS = [['userName', 'User name'], ['displayName', 'Display name'], ['meta.lastModified', 'Last modified'], ['meta.created', 'Created']];
const GROUP_SORTS = [['displayName', 'Name'], ['meta.lastModified', 'Last modified'], ['meta.created', 'Created']];
const SIZES = [25, 50, 100];

function email(u) {
  const e = u.emails || [];
  return ((e.find((x) => x.primary) || e[0]) || {}).value || '';
}

/** The shared list page: search box, sort, page size, table and pager, state kept in the URL. */
function ListPage({ slug, search, kind }) {
  const isUser = kind === 'users';
  const sorts = isUser ? USER_SORTS : GROUP_SORTS;
  const q = search.get('q') || '';
  const sortBy = search.get('sortBy') || sorts[0][0];
  const sortOrder = search.get('sortOrder') || 'ascending';
  const count = Number(search.get('count')) || 25;
  const start = Number(search.get('startIndex')) || 1;
  const [text, setText] = useState(q);
  const base = tenantPath(slug, kind);
  const go = (patch) => navigate(base + qs({ q, sortBy, sortOrder, count, startIndex: start, ...patch }), true);

  useEffect(() => setText(q), [q]);
  // Search as you type, debounced, always from the first page.
  useEffect(() => {
    if (text === q) return undefined;
    const t = setTimeout(() => go({ q: text, startIndex: 1 }), 300);
    return () => clearTimeout(t);
  }, [text]);

  const list = useLoad(
    () => api('GET', `/api/tenants/${enc(slug)}/${kind}` + qs({ q, sortBy, sortOrder, count, startIndex: start })),
    [slug, kind, q, sortBy, sortOrder, count, start],
  );
  const data = list.data;
  const rows = (data && data.Resources) || [];
  const label = isUser ? 'Users' : 'Groups';

  return html`<${PageTitle} sub=${`${label} of tenant “${slug}”, as its SCIM API holds them.`}>${label}<//>
    <form class="row toolbar" role="search" aria-label=${`Search ${kind}`} onSubmit=${(e) => { e.preventDefault(); go({ q: text, startIndex: 1 }); }}>
      <div class="field grow"><label for="search">Search ${kind}</label>
        <input id="search" type="search" value=${text} placeholder=${isUser ? 'name, email or externalId' : 'name or externalId'} onInput=${(e) => setText(e.target.value)} /></div>
      <div class="field"><label for="sort">Sort by</label>
        <select id="sort" value=${sortBy} onChange=${(e) => go({ sortBy: e.target.value, startIndex: 1 })}>${sorts.map(([v, l]) => html`<option value=${v}>${l}</option>`)}</select></div>
      <div class="field"><label for="order">Order</label>
        <select id="order" value=${sortOrder} onChange=${(e) => go({ sortOrder: e.target.value, startIndex: 1 })}><option value="ascending">Ascending</option><option value="descending">Descending</option></select></div>
      <div class="field"><label for="size">Per page</label>
        <select id="size" value=${count} onChange=${(e) => go({ count: e.target.value, startIndex: 1 })}>${SIZES.map((s) => html`<option value=${s}>${s}</option>`)}</select></div>
    </form>
    <${ErrorBox} error=${list.error} title=${`${label} could not be loaded`} />
    <section aria-label=${`${label} list`} aria-busy=${list.loading ? 'true' : 'false'}>
      ${list.loading && !data ? html`<${Loading} what=${`Loading ${kind}`} />`
        : data && data.totalResults === 0 ? (q
          ? html`<${Empty} title=${`No ${kind} match “${q}”.`}><p>Search looks at ${isUser ? 'user name, display name, email and externalId' : 'name and externalId'}, contains, any case. <button type="button" class="btn link" onClick=${() => { setText(''); go({ q: '', startIndex: 1 }); }}>Clear the search</button></p><//>`
          : html`<${Empty} title=${`No ${kind} in “${slug}” yet.`}><p>${label} appear here when your IdP provisions them. Connect one with a <a href=${tenantPath(slug, 'setup')}>setup guide</a>; check <a href=${tenantPath(slug, 'tokens')}>Tokens</a> to see whether it has called yet.</p><//>`)
        : data && html`
          <p class="muted" role="status">${list.loading ? 'Updating…' : `${data.totalResults.toLocaleString()} ${data.totalResults === 1 ? kind.slice(0, -1) : kind}${q ? ` matching “${q}”` : ''}`}</p>
          <${TableWrap} label=${`${label} table`}><table>
            <thead>${isUser
              ? html`<tr><th scope="col">User name</th><th scope="col">Display name</th><th scope="col">Email</th><th scope="col">Active</th><th scope="col">Last modified</th></tr>`
              : html`<tr><th scope="col">Name</th><th scope="col">externalId</th><th scope="col">Last modified</th></tr>`}</thead>
            <tbody>${rows.map((r) => isUser
              ? html`<tr key=${r.id}><th scope="row"><a href=${`${base}/${enc(r.id)}`}>${r.userName}</a></th><td>${r.displayName || ''}</td><td>${email(r)}</td>
                  <td>${r.active === false ? html`<${Badge} kind="bad">inactive<//>` : html`<${Badge} kind="good">active<//>`}</td><td><${Time} iso=${r.meta && r.meta.lastModified} /></td></tr>`
              : html`<tr key=${r.id}><th scope="row"><a href=${`${base}/${enc(r.id)}`}>${r.displayName}</a></th><td class="mono">${r.externalId || ''}</td><td><${Time} iso=${r.meta && r.meta.lastModified} /></td></tr>`)}</tbody>
          </table><//>
          <${Pager} total=${data.totalResults} start=${data.startIndex || start} count=${count} label=${label} busy=${list.loading} onPage=${(s) => go({ startIndex: s })} />`}
    </section>`;
}

export const Users = (p) => html`<${ListPage} ...${p} kind="users" />`;
export const Groups = (p) => html`<${ListPage} ...${p} kind="groups" />`;

/** An attribute's value as a person reads it: text as is, nothing as "—", a multi-valued
 * attribute as its values (with their type), anything else as compact JSON. */
function shown(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (typeof v !== 'object') return String(v);
  if (Array.isArray(v) && v.every((x) => x && typeof x === 'object' && 'value' in x)) {
    return v.map((x) => (x.type ? `${x.value} (${x.type}${x.primary ? ', primary' : ''})` : String(x.value))).join('; ');
  }
  return JSON.stringify(v);
}

/** A membership change (the store records `{"add": [ids]}`, `{"remove": [ids]}`, …) in words. */
function membersChange(after) {
  const n = (ids) => `${ids.length} member${ids.length === 1 ? '' : 's'}: ${ids.join(', ')}`;
  if (after && Array.isArray(after.add)) return `added ${n(after.add)}`;
  if (after && after.remove === 'all') return 'removed every member';
  if (after && Array.isArray(after.remove)) return `removed ${n(after.remove)}${after.deleted ? ' (deleted)' : ''}`;
  if (after && Array.isArray(after.replace)) return `set the members to ${n(after.replace)}`;
  return shown(after);
}

/** Per-resource history: who changed what, when, through which token. */
function History({ slug, type, id }) {
  const hist = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/${type}/${enc(id)}/history`), [slug, type, id]);
  if (hist.loading) return html`<${Loading} what="Loading history" />`;
  if (hist.error && hist.error.status === 404) return html`<p class="muted">No history is recorded for this ${type === 'Users' ? 'user' : 'group'}.</p>`;
  if (hist.error) return html`<${ErrorBox} error=${hist.error} title="History could not be loaded" />`;
  const items = hist.data.items || [];
  if (!items.length) return html`<p class="muted">No changes recorded within the log's retention.</p>`;
  return html`<ol class="history">${items.map((it) => html`<li>
    <p><strong>${it.action}</strong> · <${Time} iso=${it.time} />${it.token ? ` · token ${it.token.name || it.token}` : ''}${it.idp ? ` · ${idpName(it.idp)}` : ''}</p>
    ${(it.changes || []).length > 0 && html`<${TableWrap} label="Changed attributes"><table class="compact"><thead><tr><th scope="col">Attribute</th><th scope="col">Before</th><th scope="col">After</th></tr></thead>
      <tbody>${it.changes.map((c) => (c.attribute === 'members' && c.before === null
        ? html`<tr><th scope="row" class="mono">members</th><td colspan="2">${membersChange(c.after)}</td></tr>`
        : html`<tr><th scope="row" class="mono">${c.attribute}${c.truncated ? ' (truncated)' : ''}</th><td>${shown(c.before)}</td><td>${shown(c.after)}</td></tr>`))}</tbody></table><//>`}
  </li>`)}</ol>`;
}

/** A value as a person reads it: text as is, lists joined, objects as `key: value`. */
function readable(v) {
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) return v.map(readable).join('; ');
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}: ${readable(x)}`).join(', ');
  return String(v);
}

/** The attributes of extension schemas a resource carries (`urn:…` keys), one table each. */
function ExtensionAttributes({ resource }) {
  const blocks = Object.entries(resource).filter(([k, v]) => k.startsWith('urn:') && v && typeof v === 'object' && !Array.isArray(v));
  if (!blocks.length) return null;
  return html`<section aria-labelledby="x-attrs"><h2 id="x-attrs">Extension attributes</h2>
    ${blocks.map(([urn, block]) => html`<${TableWrap} label=${`Attributes of ${urn}`}><table class="compact">
      <caption class="mono">${urn}</caption>
      <thead><tr><th scope="col">Attribute</th><th scope="col">Value</th></tr></thead>
      <tbody>${Object.entries(block).map(([k, v]) => html`<tr><th scope="row">${k}</th><td>${readable(v)}</td></tr>`)}</tbody>
    </table><//>`)}</section>`;
}

function Json({ value, label }) {
  return html`<pre class="json" tabindex="0" role="region" aria-label=${label}>${JSON.stringify(value, null, 2)}</pre>`;
}

export function UserDetail({ slug, id }) {
  const user = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/users/${enc(id)}`), [slug, id]);
  const u = user.data;
  return html`<p class="crumbs"><a href=${tenantPath(slug, 'users')}>← Users</a></p>
    ${user.loading ? html`<${Loading} what="Loading user" />`
      : user.error ? html`<${PageTitle}>User<//><${ErrorBox} error=${user.error} title="This user could not be loaded" />`
      : html`<${PageTitle} sub=${u.displayName || ''}>${u.userName}<//>
      <dl class="facts">
        <div><dt>Active</dt><dd>${u.active === false ? html`<${Badge} kind="bad">inactive — deprovisioned by the IdP<//>` : html`<${Badge} kind="good">active<//>`}</dd></div>
        <div><dt>Email</dt><dd>${email(u) || '—'}</dd></div>
        <div><dt>externalId</dt><dd class="mono">${u.externalId || '—'}</dd></div>
        <div><dt>SCIM id</dt><dd class="mono">${u.id}</dd></div>
        <div><dt>Created</dt><dd><${Time} iso=${u.meta && u.meta.created} /></dd></div>
        <div><dt>Last modified</dt><dd><${Time} iso=${u.meta && u.meta.lastModified} /></dd></div>
      </dl>
      <section aria-labelledby="u-groups"><h2 id="u-groups">Groups</h2>
        ${(u.groups || []).length === 0 ? html`<p class="muted">Not a member of any group.</p>`
          : html`<ul class="plain">${u.groups.map((g) => html`<li><a href=${tenantPath(slug, `groups/${enc(g.value)}`)}>${g.display || g.value}</a>${g.type === 'indirect' ? html` <${Badge}>indirect<//>` : ''}</li>`)}</ul>`}
      </section>
      <${ExtensionAttributes} resource=${u} />
      <section aria-labelledby="u-history"><h2 id="u-history">History</h2><${History} slug=${slug} type="Users" id=${id} /></section>
      <section aria-labelledby="u-json"><h2 id="u-json">SCIM JSON</h2><p class="muted">Exactly what a token of this tenant reads at <code>GET /Users/${u.id}</code>.</p><${Json} value=${u} label="SCIM JSON of the user" /></section>`}`;
}

export function GroupDetail({ slug, id, search }) {
  const count = 100;
  const start = Number(search.get('startIndex')) || 1;
  const res = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/groups/${enc(id)}` + qs({ startIndex: start, count })), [slug, id, start]);
  const [first, setFirst] = useState(null);
  useEffect(() => { if (res.data) setFirst(res.data); }, [res.data]);
  const d = res.data || first;
  const page = (s) => navigate(tenantPath(slug, `groups/${enc(id)}`) + qs({ startIndex: s }), true);
  if (!d) {
    return html`<p class="crumbs"><a href=${tenantPath(slug, 'groups')}>← Groups</a></p>
      ${res.error ? html`<${PageTitle}>Group<//><${ErrorBox} error=${res.error} title="This group could not be loaded" />` : html`<${Loading} what="Loading group" />`}`;
  }
  const g = d.group;
  const m = d.members;
  return html`<p class="crumbs"><a href=${tenantPath(slug, 'groups')}>← Groups</a></p>
    <${PageTitle} sub=${`${m.totalResults.toLocaleString()} members`}>${g.displayName}<//>
    <dl class="facts">
      <div><dt>externalId</dt><dd class="mono">${g.externalId || '—'}</dd></div>
      <div><dt>SCIM id</dt><dd class="mono">${g.id}</dd></div>
      <div><dt>Created</dt><dd><${Time} iso=${g.meta && g.meta.created} /></dd></div>
      <div><dt>Last modified</dt><dd><${Time} iso=${g.meta && g.meta.lastModified} /></dd></div>
    </dl>
    <section aria-labelledby="g-members" aria-busy=${res.loading ? 'true' : 'false'}><h2 id="g-members">Members</h2>
      <${ErrorBox} error=${res.error} title="Members could not be loaded" />
      ${m.totalResults === 0 ? html`<${Empty} title="This group has no members."><p>Members are added by your IdP (group push or assignment).</p><//>`
        : html`<${Pager} total=${m.totalResults} start=${m.startIndex} count=${count} label="Members" nav="Members pages, top" busy=${res.loading} onPage=${page} />
        <${TableWrap} label="Members table"><table>
          <thead><tr><th scope="col">#</th><th scope="col">Member</th><th scope="col">Type</th></tr></thead>
          <tbody>${(m.Resources || []).map((x, i) => html`<tr key=${x.value}><td class="muted">${(m.startIndex + i).toLocaleString()}</td>
            <th scope="row">${x.type === 'Group' ? html`<a href=${tenantPath(slug, `groups/${enc(x.value)}`)}>${x.display || x.value}</a>` : html`<a href=${tenantPath(slug, `users/${enc(x.value)}`)}>${x.display || x.value}</a>`}</th><td>${x.type}</td></tr>`)}</tbody>
        </table><//>
        <${Pager} total=${m.totalResults} start=${m.startIndex} count=${count} label="Members" busy=${res.loading} onPage=${page} />`}
    </section>
    <${ExtensionAttributes} resource=${g} />
    <section aria-labelledby="g-history"><h2 id="g-history">History</h2><${History} slug=${slug} type="Groups" id=${id} /></section>
    <section aria-labelledby="g-json"><h2 id="g-json">SCIM JSON (without members)</h2><${Json} value=${g} label="SCIM JSON of the group" /></section>`;
}
