// Activity: the request log with filters, a request/response viewer, the diagnosis, and links
// to the resource's page (with its history).
import { html, useState, api, enc, qs, navigate, useLoad, Time, ErrorBox, Loading, Empty, Badge, Pager, TableWrap, PageTitle, tenantPath, IDPS, idpName, quirkPhrase } from '../lib.js';

const PER_PAGE = 50;

function statusKind(s) { return s >= 500 ? 'bad' : s >= 400 ? 'warn' : 'good'; }

// Server latencies arrive with microsecond digits; a person reads tenths of a millisecond.
function ms(v) { return `${Number(v).toFixed(v < 10 ? 1 : 0)} ms`; }

function Body({ label, text, truncated }) {
  if (text === null || text === undefined || text === '') return html`<p class="muted">${label}: empty</p>`;
  let shown = text;
  try { shown = JSON.stringify(typeof text === 'string' ? JSON.parse(text) : text, null, 2); } catch { /* not JSON: show as is */ }
  return html`<h4>${label}${truncated ? ' (truncated)' : ''}</h4><pre class="json" tabindex="0" role="region" aria-label=${label}>${shown}</pre>`;
}

function Detail({ slug, id, onClose }) {
  const e = useLoad(() => api('GET', `/api/log/${enc(id)}`), [id]);
  if (e.loading) return html`<${Loading} what="Loading request" />`;
  if (e.error) return html`<${ErrorBox} error=${e.error} title="This request could not be loaded" />`;
  const x = e.data;
  const type = x.resource_type === 'Group' || x.resource_type === 'Groups' ? 'groups' : 'users';
  return html`<section class="card detail" aria-labelledby="req-title">
    <h2 id="req-title" tabindex="-1"><${Badge} kind=${statusKind(x.status)}>${x.status}<//> ${x.method} ${x.path}${x.query ? `?${x.query}` : ''}</h2>
    <button type="button" class="btn small" onClick=${onClose}>Close</button>
    ${x.diagnosis && html`<div class="notice diag" role="note"><h3>${x.diagnosis.title}</h3><p>${x.diagnosis.explanation}</p><p><strong>Fix:</strong> ${x.diagnosis.fix}</p></div>`}
    <dl class="facts">
      <div><dt>Time</dt><dd><${Time} iso=${x.time} /></dd></div>
      <div><dt>Token</dt><dd>${x.token ? x.token.name : 'none / unknown'}</dd></div>
      <div><dt>IdP</dt><dd>${idpName(x.idp)}</dd></div>
      <div><dt>Client</dt><dd>${x.client_ip || '—'} · ${x.user_agent || '—'}</dd></div>
      <div><dt>Latency</dt><dd>${ms(x.latency_ms)}</dd></div>
      ${x.request_id && html`<div><dt>Request id</dt><dd class="mono">${x.request_id}</dd></div>`}
      ${x.scim_type && html`<div><dt>scimType</dt><dd class="mono">${x.scim_type}</dd></div>`}
      ${x.detail && html`<div><dt>Detail</dt><dd>${x.detail}</dd></div>`}
      ${(x.ignored_attributes || []).length > 0 && html`<div><dt>Ignored attributes</dt><dd>${x.ignored_attributes.join(', ')} (no schema of this tenant defines ${x.ignored_attributes.length === 1 ? 'it' : 'them'}; not stored)</dd></div>`}
      ${(x.quirks || []).length > 0 && html`<div><dt>Dialect</dt><dd><ul class="plain quirks">${x.quirks.map((q) => html`<li key=${q.id}><strong>${quirkPhrase(q)}</strong>: ${q.explanation}</li>`)}</ul></dd></div>`}
      ${(x.truncated_fields || []).length > 0 && html`<div><dt>Truncated</dt><dd>${x.truncated_fields.join(', ')} (stored cut to request_log.max_field_bytes)</dd></div>`}
      ${x.resource_id && html`<div><dt>Resource</dt><dd><a href=${tenantPath(slug, `${type}/${enc(x.resource_id)}`)}>${x.resource_type} ${x.resource_id} — page and history</a></dd></div>`}
    </dl>
    <${Body} label="Request body" text=${x.request_body} truncated=${x.request_truncated} />
    <${Body} label="Response body" text=${x.response_body} truncated=${x.response_truncated} />
  </section>`;
}

export function Activity({ slug, search }) {
  const f = {
    status: search.get('status') || '', token: search.get('token') || '', idp: search.get('idp') || '',
    resource: search.get('resource') || '', request_id: search.get('request_id') || '', since: search.get('since') || '', until: search.get('until') || '',
    page: Number(search.get('page')) || 1,
  };
  const open = search.get('id');
  const base = tenantPath(slug, 'activity');
  const go = (patch) => navigate(base + qs({ ...f, ...patch }), true);
  const [resource, setResource] = useState(f.resource);
  const [requestId, setRequestId] = useState(f.request_id);
  const tokens = useLoad(() => api('GET', `/api/tenants/${enc(slug)}/tokens`), [slug]);
  const log = useLoad(async () => {
    const toIso = (v) => (v ? new Date(v).toISOString() : '');
    return api('GET', `/api/log${qs({ tenant: slug, status: f.status, token: f.token, idp: f.idp, resource: f.resource, request_id: f.request_id, since: toIso(f.since), until: toIso(f.until), page: f.page, per_page: PER_PAGE })}`);
  }, [slug, f.status, f.token, f.idp, f.resource, f.request_id, f.since, f.until, f.page]);

  const d = log.data;
  return html`<${PageTitle} sub=${`Every SCIM request to tenant “${slug}”, newest first. Times in your time zone.`}>Activity<//>
    <form class="row toolbar" aria-label="Filter requests" onSubmit=${(e) => { e.preventDefault(); go({ resource, request_id: requestId.trim(), page: 1 }); }}>
      <div class="field"><label for="f-status">Status</label>
        <select id="f-status" value=${f.status} onChange=${(e) => go({ status: e.target.value, page: 1 })}>
          <option value="">All</option><option value="errors">Errors (4xx/5xx)</option>${[200, 201, 204, 400, 401, 404, 409, 429, 500].map((s) => html`<option value=${s}>${s}</option>`)}</select></div>
      <div class="field"><label for="f-token">Token</label>
        <select id="f-token" value=${f.token} onChange=${(e) => go({ token: e.target.value, page: 1 })}><option value="">All</option>${(tokens.data || []).map((t) => html`<option value=${t.id}>${t.name}</option>`)}</select></div>
      <div class="field"><label for="f-idp">IdP</label>
        <select id="f-idp" value=${f.idp} onChange=${(e) => go({ idp: e.target.value, page: 1 })}><option value="">All</option>${IDPS.map((i) => html`<option value=${i.id}>${i.name}</option>`)}<option value="other">Other</option></select></div>
      <div class="field"><label for="f-since">From</label><input id="f-since" type="datetime-local" value=${f.since} onChange=${(e) => go({ since: e.target.value, page: 1 })} /></div>
      <div class="field"><label for="f-until">Until</label><input id="f-until" type="datetime-local" value=${f.until} onChange=${(e) => go({ until: e.target.value, page: 1 })} /></div>
      <div class="field"><label for="f-res">Resource id</label><input id="f-res" value=${resource} onInput=${(e) => setResource(e.target.value)} /></div>
      <div class="field"><label for="f-reqid">Request id</label><input id="f-reqid" value=${requestId} placeholder="X-Request-Id" onInput=${(e) => setRequestId(e.target.value)} /></div>
      <div class="field actions"><button class="btn" type="submit">Apply</button></div>
    </form>
    ${open && html`<${Detail} slug=${slug} id=${open} onClose=${() => go({ id: undefined })} />`}
    <${ErrorBox} error=${log.error} title="The request log could not be loaded" />
    <section aria-label="Requests" aria-busy=${log.loading ? 'true' : 'false'}>
      ${log.loading && !d ? html`<${Loading} what="Loading requests" />`
        : d && d.items.length === 0 ? html`<${Empty} title="No requests match."><p>${f.status || f.token || f.idp || f.resource || f.request_id || f.since || f.until ? 'Loosen the filters above.' : html`No IdP has called this tenant yet. Follow a <a href=${tenantPath(slug, 'setup')}>setup guide</a>.`}</p><//>`
        : d && html`<${TableWrap} label="Requests table"><table>
            <thead><tr><th scope="col">Time</th><th scope="col">Request</th><th scope="col">Status</th><th scope="col">Token / IdP</th><th scope="col">Latency</th></tr></thead>
            <tbody>${d.items.map((x) => html`<tr key=${x.id} class=${x.id === open ? 'selected' : ''}>
              <td><${Time} iso=${x.time} /></td>
              <th scope="row"><a href=${base + qs({ ...f, id: x.id })}>${x.method} ${x.path}</a>${x.diagnosis && html`<div class="small diag-line">${x.diagnosis.title}</div>`}</th>
              <td><${Badge} kind=${statusKind(x.status)}>${x.status}<//></td>
              <td>${x.token ? x.token.name : '—'}<div class="muted small">${idpName(x.idp)}</div></td>
              <td>${ms(x.latency_ms)}</td></tr>`)}</tbody></table><//>
          <${Pager} total=${d.total} start=${(d.page - 1) * d.per_page + 1} count=${d.per_page} label="Requests" busy=${log.loading} onPage=${(s) => go({ page: Math.floor((s - 1) / d.per_page) + 1 })} />`}
    </section>`;
}
