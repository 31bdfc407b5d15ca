// Events: what the tenant's applications see on the events feed (docs/events.md), newest first,
// filtered by type or resource, each linked to the resource's page and history.
import { html, useState, api, enc, qs, navigate, useLoad, Time, ErrorBox, Loading, Empty, Badge, TableWrap, PageTitle, tenantPath } from '../lib.js';

const TYPES = ['user.created', 'user.updated', 'user.deactivated', 'user.reactivated', 'user.deleted',
  'group.created', 'group.updated', 'group.deleted', 'group.member_added', 'group.member_removed',
  'user.restored', 'group.restored', 'alarm.mass_change'];

function typeKind(t) {
  if (t === 'alarm.mass_change') return 'bad';
  if (t.endsWith('.deleted') || t === 'user.deactivated' || t === 'group.member_removed') return 'warn';
  if (t.endsWith('.created') || t.endsWith('.restored') || t === 'user.reactivated' || t === 'group.member_added') return 'good';
  return 'neutral';
}

function What({ e }) {
  if (e.alarm) return html`${e.alarm.deletions} deletions, ${e.alarm.deactivations} deactivations within ${e.alarm.window_secs} s`;
  if (e.erased) return html`<span class="muted">erased</span>`;
  if (e.member) return html`member ${e.member.type.toLowerCase()} <span class="mono">${e.member.id}</span>`;
  if (e.changed && e.changed.length > 0) return html`${e.changed.join(', ')}`;
  return html`<span class="muted">—</span>`;
}

function Row({ slug, e }) {
  const [open, setOpen] = useState(false);
  // An alarm is about the tenant, not one resource (docs/events.md).
  const r = e.resource || { type: 'Tenant', id: slug };
  const name = r.userName || r.displayName || r.id;
  const page = tenantPath(slug, `${r.type === 'Group' ? 'groups' : 'users'}/${enc(r.id)}`);
  return html`<tr>
    <td data-label="Seq" class="mono">${e.seq}</td>
    <td data-label="Time"><${Time} iso=${e.occurred_at} /></td>
    <td data-label="Type"><${Badge} kind=${typeKind(e.type)}>${e.type}<//></td>
    <th scope="row" data-label="Resource">${e.type.endsWith('.deleted') || !e.resource ? name : html`<a href=${page}>${name}</a>`}<div class="muted small">${r.type} ${r.id}</div></th>
    <td data-label="What"><${What} e=${e} /></td>
    <td data-label="By">${e.actor ? `${e.actor.token_name} (${e.actor.idp})` : '—'}</td>
    <td class="actions-cell" data-label="JSON"><button type="button" class="btn small" aria-expanded=${open ? 'true' : 'false'} onClick=${() => setOpen(!open)}>${open ? 'Hide' : 'JSON'}</button>
      ${open && html`<pre class="json" tabindex="0" role="region" aria-label=${`Event ${e.seq}`}>${JSON.stringify(e, null, 2)}</pre>`}</td>
  </tr>`;
}

export function Events({ slug, search }) {
  const f = { type: search.get('type') || '', resource: search.get('resource') || '', before: search.get('before') || '' };
  const base = tenantPath(slug, 'events');
  const go = (patch) => navigate(base + qs({ ...f, ...patch }), true);
  const [resource, setResource] = useState(f.resource);
  const page = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/events${qs({ type: f.type, resource: f.resource, before: f.before, limit: 50 })}`), [slug, f.type, f.resource, f.before]);
  const d = page.data;
  return html`<${PageTitle} sub=${`What applications following tenant “${slug}” see on its events feed, newest first. They read it with an events token (Tokens → Access: events feed).`}>Events<//>
    <form class="row toolbar" aria-label="Filter events" onSubmit=${(e) => { e.preventDefault(); go({ resource: resource.trim(), before: '' }); }}>
      <div class="field"><label for="ev-type">Type</label>
        <select id="ev-type" value=${f.type} onChange=${(e) => go({ type: e.target.value, before: '' })}><option value="">All</option>${TYPES.map((t) => html`<option value=${t}>${t}</option>`)}</select></div>
      <div class="field"><label for="ev-resource">Resource id</label><input id="ev-resource" value=${resource} onInput=${(e) => setResource(e.target.value)} /></div>
      <div class="field actions"><button class="btn" type="submit">Apply</button></div>
    </form>
    <${ErrorBox} error=${page.error} title="Events could not be loaded" />
    ${page.loading && !d ? html`<${Loading} what="Loading events" />`
      : !d ? null
      : d.events.length === 0 && !d.next_before ? html`<${Empty} title=${f.type || f.resource ? 'No events match.' : 'No events yet.'}><p>Every change an IdP makes to a user or group appears here and on the feed.</p><//>`
      : html`${d.events.length === 0
          // A filtered page searches a stretch of the feed at a time (events.browse_scan_rows).
          ? html`<${Empty} title="No events match in this stretch of the feed."><p>Searched back to event #${d.next_before}. <strong>Older →</strong> searches further back.</p><//>`
          : html`<${TableWrap} label="Events"><table class="stack">
          <thead><tr><th scope="col">Seq</th><th scope="col">Time</th><th scope="col">Type</th><th scope="col">Resource</th><th scope="col">What</th><th scope="col">By</th><th scope="col"><span class="sr-only">JSON</span></th></tr></thead>
          <tbody>${d.events.map((e) => html`<${Row} key=${e.seq} slug=${slug} e=${e} />`)}</tbody>
        </table><//>`}
        <nav class="pager" aria-label="Events pages">
          <button type="button" class="btn" disabled=${!f.before} onClick=${() => go({ before: '' })}>Newest</button>
          <button type="button" class="btn" disabled=${!d.next_before} onClick=${() => go({ before: String(d.next_before) })}>Older →</button>
        </nav>`}`;
}
