// Deleted: a tenant's deleted users and groups, restorable with their id, attributes and
// memberships until the tenant's retention ends; erase for privacy requests; the mass-change
// alarms with their one Revert action (README "Deleted users and groups"). The alarm banner is
// also shown on the dashboard.
import { html, useState, api, enc, useLoad, Time, ErrorBox, Loading, Empty, TableWrap, PageTitle, announce, tenantPath } from '../lib.js';

function plural(n, one, many = `${one}s`) { return `${n} ${n === 1 ? one : many}`; }

/** The open mass-change alarms of a tenant, each with Revert and Dismiss. */
export function AlarmBanner({ slug, onChanged }) {
  const list = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/alarms`), [slug]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const open = (list.data || []).filter((a) => a.state === 'open');
  const act = async (a, what) => {
    setBusy(true); setError(null);
    try {
      const r = await api('POST', `/api/tenants/${enc(slug)}/alarms/${a.id}/${what}`);
      const msg = what === 'revert'
        ? `Reverted: ${r.restored.length} restored, ${r.reactivated.length} reactivated${r.refused.length ? `, ${r.refused.length} could not be brought back` : ''}.`
        : `Alarm ${a.id} dismissed.`;
      setDone({ msg, refused: r.refused || [] });
      announce(msg);
      list.reload();
      if (onChanged) onChanged();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  if (open.length === 0 && !done && !error) return null;
  return html`<div class="alarms">
    ${open.map((a) => html`<div key=${a.id} class="notice alarm" role="alert" aria-labelledby=${`alarm-${slug}-${a.id}`}>
      <h3 id=${`alarm-${slug}-${a.id}`}>Mass change in “${slug}”: ${plural(a.deletions, 'deletion')} and ${plural(a.deactivations, 'deactivation')}</h3>
      <p>Since <${Time} iso=${a.raised_at} /> the IdP removed more users and groups than the tenant's alarm threshold allows. If this was a mistake (an app unassigned, a scoping filter changed), revert it: every user and group this burst deleted is restored and every user it deactivated is reactivated.</p>
      <button type="button" class="btn primary" disabled=${busy} onClick=${() => act(a, 'revert')}>Revert this burst</button> <button type="button" class="btn" disabled=${busy} onClick=${() => act(a, 'dismiss')}>Dismiss (it was intended)</button>
    </div>`)}
    ${done && html`<div class="notice" role="status"><p>${done.msg}</p>${done.refused.length > 0 && html`<ul>${done.refused.map((f) => html`<li><span class="mono">${f.id}</span>: ${f.reason}</li>`)}</ul>`}</div>`}
    <${ErrorBox} error=${error} title="The alarm could not be handled" />
  </div>`;
}

function Row({ slug, d, onChanged, onDone }) {
  const [mode, setMode] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const act = async (what) => {
    setBusy(true); setError(null);
    try {
      const r = await api('POST', `/api/tenants/${enc(slug)}/deleted/${enc(d.id)}/${what}`);
      const msg = what === 'restore'
        ? `Restored ${d.resource_type.toLowerCase()} ${d.name} with ${plural(r.memberships, 'membership')}${r.memberships_skipped ? ` (${r.memberships_skipped} left out: gone since)` : ''}.`
        : `Erased ${d.resource_type.toLowerCase()} ${d.id}: ${plural(r.history_rows, 'history change')}, ${plural(r.events, 'event payload')}, ${plural(r.log_entries, 'request-log entry', 'request-log entries')} removed.`;
      announce(msg);
      onDone(msg);
      setMode(null);
      onChanged();
    } catch (err) { setError(err); } finally { setBusy(false); }
  };
  const by = d.deleted_by ? `${d.deleted_by.token_name} (${d.deleted_by.idp})` : '—';
  return html`<tr>
    <th scope="row">${d.name}<div class="muted small">${d.resource_type} <span class="mono">${d.id}</span></div></th>
    <td data-label="Deleted"><${Time} iso=${d.deleted_at} /></td>
    <td data-label="By">${by}</td>
    <td data-label="Memberships">${d.resource_type === 'Group' ? `${plural(d.members, 'member')}, ` : ''}in ${plural(d.member_of, 'group')}</td>
    <td class="actions-cell" data-label="Actions">
      ${mode === null && html`<button type="button" class="btn small primary" disabled=${busy} onClick=${() => act('restore')}>Restore</button> <button type="button" class="btn small danger" onClick=${() => setMode('erase')}>Erase…</button>`}
      ${mode === 'erase' && html`<div class="confirm" role="group" aria-label=${`Erase ${d.name}`}>
        <p>Erase “${d.name}” for good? Its history, the payloads of its events and the request-log entries naming it are removed; only the record of this erase remains. It cannot be restored afterwards.</p>
        <button type="button" class="btn small danger" disabled=${busy} onClick=${() => act('erase')}>Erase now</button> <button type="button" class="btn small" onClick=${() => setMode(null)}>Cancel</button></div>`}
      <${ErrorBox} error=${error} title="That did not work" />
    </td>
  </tr>`;
}

export function Deleted({ slug }) {
  const list = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/deleted`), [slug]);
  const [done, setDone] = useState(null);
  const d = list.data;
  const days = d ? d.retention_days : 30;
  return html`<${PageTitle} sub=${`Users and groups deleted in tenant “${slug}”. SCIM no longer shows them, and the IdP may create the same names again; each can be restored with its id, attributes and memberships for ${days} days after its deletion.`}>Deleted<//>
    <${AlarmBanner} slug=${slug} onChanged=${list.reload} />
    ${done && html`<p class="notice" role="status">${done}</p>`}
    <section aria-labelledby="deleted-list" aria-busy=${list.loading ? 'true' : 'false'}>
      <h2 id="deleted-list">Deleted users and groups</h2>
      <${ErrorBox} error=${list.error} title="Deleted users and groups could not be loaded" />
      ${list.loading && !d ? html`<${Loading} what="Loading deleted users and groups" />`
        : !d ? null
        : d.deleted.length === 0 ? html`<${Empty} title="Nothing deleted."><p>Users and groups the IdP deletes appear here, restorable for ${days} days. <a href=${tenantPath(slug, 'settings')}>Settings</a> has the retention.</p><//>`
        : html`<${TableWrap} label="Deleted users and groups"><table class="stack">
            <thead><tr><th scope="col">Name</th><th scope="col">Deleted</th><th scope="col">By</th><th scope="col">Memberships</th><th scope="col">Actions</th></tr></thead>
            <tbody>${d.deleted.map((x) => html`<${Row} key=${x.id} slug=${slug} d=${x} onChanged=${list.reload} onDone=${setDone} />`)}</tbody>
          </table><//>`}
    </section>`;
}
