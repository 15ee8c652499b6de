// The operators' console (/console): every action is a call to the /admin API with the operator key the person
// typed, kept in sessionStorage for this tab only (never a cookie, never the URL).
import { call, query, segment, ApiError } from './api.js';
import {
  $, h, clear, act, allow, onSubmit, table, badge, when, bytes, facts, confirmDialog, secretNotice, sections, showError,
  hideMessage, announce, verification,
} from './ui.js';

const KEY_ITEM = 'silo.operator-key';
const SECTIONS = ['tenants', 'audit', 'backups', 'access'];

let key = sessionStorage.getItem(KEY_ITEM);
let tenants = [];
let tenantsCursor = null;
let selected = null;
let auditBefore = null;
let jobsTimer = null;

/** A call with the operator key; a refused key signs out. */
async function api(method, path, options = {}) {
  try {
    return await call(method, path, { ...options, token: key });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && key) {
      signOut('The operator key was refused (' + error.message + '). Sign in again.');
    }
    throw error;
  }
}

// ---- sign-in

function showSignedIn(signedIn) {
  $('#sign-in').hidden = signedIn;
  $('#nav').hidden = !signedIn;
  $('#sign-out').hidden = !signedIn;
  if (!signedIn) {
    for (const name of SECTIONS) {
      document.getElementById('section-' + name).hidden = true;
    }
  }
}

function signOut(message) {
  key = null;
  sessionStorage.removeItem(KEY_ITEM);
  clearTimeout(jobsTimer);
  showSignedIn(false);
  const error = $('#sign-in-error');
  if (message) {
    showError(error, message);
  } else {
    hideMessage(error);
  }
  $('#operator-key').value = '';
  $('#operator-key').focus();
}

onSubmit($('#sign-in-form'), (form, button) => act(button, $('#sign-in-error'), async () => {
  const typed = form.key.trim();
  if (!typed) {
    throw new Error('Enter an operator key.');
  }
  // Any operator route tells whether the key is good; the tenant listing is the first page shown anyway.
  await call('GET', '/admin/tenants' + query({ limit: 1 }), { token: typed });
  key = typed;
  sessionStorage.setItem(KEY_ITEM, key);
  $('#operator-key').value = '';
  start();
}));

$('#sign-out').addEventListener('click', () => signOut());

// ---- tenants

async function loadTenants(more = false) {
  const error = $('#tenants-error');
  await act(null, error, async () => {
    const { data } = await api('GET', '/admin/tenants' + query({
      limit: 50, cursor: more ? tenantsCursor : null, include_purged: $('#include-purged').checked ? 'true' : null,
    }));
    tenants = more ? tenants.concat(data.tenants) : data.tenants;
    tenantsCursor = data.next_cursor;
    renderTenants();
  });
}

function renderTenants() {
  clear($('#tenants-table'), table('Tenants', [
    {
      label: 'Slug',
      cell: (t) => h('button', {
        type: 'button', class: 'link', dataset: { slug: t.slug }, 'aria-label': 'Open tenant ' + t.slug, onclick: () => selectTenant(t.slug),
      }, t.slug),
    },
    { label: 'Name', cell: (t) => t.name },
    { label: 'Status', cell: (t) => badge(t.status) },
    { label: 'Placement', cell: (t) => t.placement || '', class: 'optional' },
    { label: 'Created', cell: (t) => when(t.created_at), class: 'optional' },
    {
      label: 'Admins\u2019 console',
      cell: (t) => (t.status === 'purged' ? '' : h('a', { href: '/t/' + segment(t.slug) + '/console' }, '/t/' + t.slug + '/console')),
      class: 'optional',
    },
  ], tenants.map((t) => ({ ...t, __key: t.slug })), 'No tenants yet: create the first one below.'));
  for (const row of $('#tenants-table').querySelectorAll('tbody tr')) {
    row.classList.toggle('selected', selected !== null && row.dataset.key === selected.slug);
  }
  $('#tenants-more').hidden = !tenantsCursor;
  fillTenantSelect();
}

$('#tenants-refresh').addEventListener('click', () => loadTenants());
onSubmit($('#open-tenant-form'), (form) => selectTenant(form.slug));
$('#tenants-more').addEventListener('click', () => loadTenants(true));
$('#include-purged').addEventListener('change', () => loadTenants());

onSubmit($('#create-tenant-form'), (form, button) => act(button, $('#create-tenant-error'), async () => {
  const body = { slug: form.slug, name: form.name || undefined, placement: form.placement || undefined };
  const { data } = await api('POST', '/admin/tenants', { body });
  $('#create-tenant-form').reset();
  await loadTenants();
  if (!tenants.some((t) => t.slug === data.slug)) {
    tenants.push(data); // past the pages shown (the listing is oldest first): shown at the end meanwhile
    renderTenants();
  }
  await selectTenant(data.slug);
  return data;
}, (tenant) => 'Tenant ' + tenant.slug + ' created'));

async function selectTenant(slug, focus = true) {
  const panel = $('#tenant-detail');
  const error = $('#tenant-error');
  hideMessage(error);
  $('#tenant-notice').hidden = true;
  try {
    const { data } = await api('GET', '/admin/tenants/' + segment(slug));
    selected = data;
  } catch (failure) {
    panel.hidden = false;
    showError(error, failure);
    return;
  }
  renderSelected();
  panel.hidden = false;
  if (focus) {
    panel.focus();
    panel.scrollIntoView({ block: 'start' });
  }
  loadTenantJobs();
}

function renderSelected() {
  const t = selected;
  $('#tenant-detail-title').textContent = 'Tenant ' + t.slug;
  clear($('#tenant-facts'), facts({
    name: t.name,
    status: badge(t.status),
    placement: t.placement,
    size: t.size_bytes === undefined ? undefined : (t.size_bytes === null ? '—' : bytes(t.size_bytes)),
    id: h('span', { class: 'mono' }, t.id),
    created_at: when(t.created_at),
    suspended_at: t.suspended_at ? when(t.suspended_at) : undefined,
    deprovisioned_at: t.deprovisioned_at ? when(t.deprovisioned_at) : undefined,
    purge_after: t.purge_after ? when(t.purge_after) : undefined,
    purged_at: t.purged_at ? when(t.purged_at) : undefined,
    signing_key_id: t.signing_key_id ? h('span', { class: 'mono' }, t.signing_key_id) : undefined,
    rate_limit: t.rate_limit,
    admins_console: t.status === 'purged' ? undefined : h('a', { href: '/t/' + segment(t.slug) + '/console' }, '/t/' + t.slug + '/console'),
  }, { created_at: 'created', suspended_at: 'suspended', deprovisioned_at: 'deprovisioned', purge_after: 'purged after',
    purged_at: 'purged', signing_key_id: 'signing key id', rate_limit: 'rate limit', admins_console: 'admins\u2019 console' }));
  const status = t.status;
  allow($('#action-suspend'), status === 'active');
  allow($('#action-resume'), status === 'suspended');
  allow($('#action-deprovision'), status === 'active' || status === 'suspended');
  allow($('#action-restore'), status === 'deprovisioned');
  allow($('#action-purge'), status === 'deprovisioned');
  allow($('#action-rotate'), status === 'active' || status === 'suspended');
  for (const form of ['#admin-form', '#restore-to-form']) {
    for (const button of $(form).querySelectorAll('button')) {
      allow(button, status === 'active');
    }
  }
  renderTenants();
}

/** A lifecycle action on the selected tenant: POST, then show the tenant as it now is. */
function lifecycle(button, verb, done) {
  return act(button, $('#tenant-error'), async () => {
    const { data } = await api('POST', '/admin/tenants/' + segment(selected.slug) + '/' + verb);
    await selectTenant(data.slug, false);
    await loadTenants();
    return data;
  }, (tenant) => 'Tenant ' + tenant.slug + ' ' + done);
}

$('#action-suspend').addEventListener('click', (event) => lifecycle(event.currentTarget, 'suspend', 'suspended'));
$('#action-resume').addEventListener('click', (event) => lifecycle(event.currentTarget, 'resume', 'resumed'));
$('#action-restore').addEventListener('click', (event) => lifecycle(event.currentTarget, 'restore', 'restored'));
$('#action-deprovision').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  const answer = await confirmDialog({
    title: 'Deprovision ' + selected.slug + '?',
    text: 'Its API and logins stop at once and its sessions end. Its data is kept for the retention window, '
      + 'during which Restore brings it back.',
    confirmLabel: 'Deprovision',
    danger: true,
  });
  if (answer) {
    await lifecycle(button, 'deprovision', 'deprovisioned');
  }
});

$('#action-purge').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  const slug = selected.slug;
  const answer = await confirmDialog({
    title: 'Purge ' + slug + ' for good?',
    text: 'This drops its database and role and destroys its keys, so its backups can never be read again. '
      + 'It cannot be undone.',
    confirmLabel: 'Purge',
    danger: true,
    typed: slug,
    extra: [h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'now', id: 'purge-now' }),
      'Now, before the retention window ends')],
  });
  if (!answer) {
    return;
  }
  await act(button, $('#tenant-error'), async () => {
    const { data } = await api('DELETE', '/admin/tenants/' + segment(slug) + query({ confirm: answer.typed, now: answer.now ? 'true' : null }));
    selected = data;
    renderSelected();
    await loadTenants();
    return data;
  }, 'Tenant ' + slug + ' purged');
});

$('#action-rotate').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  const answer = await confirmDialog({
    title: 'Rotate the signing secret of ' + selected.slug + '?',
    text: 'A new key signs tokens from now on; the previous one keeps verifying for the access-token lifetime, '
      + 'so nobody is signed out, unless you revoke it now.',
    confirmLabel: 'Rotate',
    extra: [h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'revoke_previous', id: 'rotate-revoke' }),
      'Revoke the previous key at once (signs everybody out)')],
  });
  if (!answer) {
    return;
  }
  await act(button, $('#tenant-error'), async () => {
    const { data } = await api('POST', '/admin/tenants/' + segment(selected.slug) + '/rotate-secret',
      { body: { revoke_previous: answer.revoke_previous } });
    await selectTenant(selected.slug, false);
    const notice = $('#tenant-notice');
    clear(notice, 'New signing key ', h('span', { class: 'mono' }, data.signing_key_id), '; the previous key: ', data.previous_key, '.');
    notice.hidden = false;
    return data;
  }, 'Secret rotated');
});

onSubmit($('#admin-form'), (form, button) => act(button, $('#admin-error'), async () => {
  const slug = selected.slug;
  const { data } = await api('POST', '/admin/tenants/' + segment(slug) + '/admins', { body: { email: form.email, password: form.password } });
  $('#admin-form').reset();
  const notice = $('#admin-notice');
  clear(notice, 'Admin ', h('strong', {}, data.email), ' created. They sign in at ',
    h('a', { href: '/t/' + segment(slug) + '/console', id: 'admin-console-link' }, '/t/' + slug + '/console'), '.');
  notice.hidden = false;
  return data;
}, 'Admin created'));

onSubmit($('#restore-to-form'), (form, button) => act(button, $('#restore-error'), async () => {
  if (!form.time) {
    throw new Error('Give the time to restore to, such as 2026-12-02T14:01:00Z.');
  }
  await startRestore({ time: form.time, as: form.as || undefined });
}, 'Restore started'));

$('#restore-undo').addEventListener('click', (event) => act(event.currentTarget, $('#restore-error'), async () => {
  await startRestore({ undo: true });
}, 'Undo started'));

async function startRestore(body) {
  await api('POST', '/admin/tenants/' + segment(selected.slug) + '/restore-to', { body });
  await loadTenantJobs();
}

async function loadTenantJobs() {
  if (!selected || selected.status === 'purged') {
    clear($('#tenant-jobs'));
    return;
  }
  const slug = selected.slug;
  try {
    const { data } = await api('GET', '/admin/jobs' + query({ tenant: slug, limit: 5 }));
    if (selected && selected.slug === slug) {
      clear($('#tenant-jobs'), h('h4', {}, 'Latest restores'), jobsTable(data.jobs, 'Restores of ' + slug, true));
    }
  } catch (error) {
    clear($('#tenant-jobs'), h('p', { class: 'error' }, error.message));
  }
}

// ---- platform audit

async function loadAudit(more = false) {
  await act(null, $('#audit-error'), async () => {
    const { data } = await api('GET', '/admin/audit' + query({ limit: 50, before: more ? auditBefore : null }));
    auditBefore = data.next_before;
    const rows = data.entries;
    const columns = [
      { label: 'Seq', cell: (e) => String(e.seq) },
      { label: 'Time', cell: (e) => when(e.at) },
      { label: 'Actor', cell: (e) => e.actor },
      { label: 'Action', cell: (e) => e.action },
      { label: 'Target', cell: (e) => e.target || '' },
      { label: 'Detail', cell: (e) => e.detail || '', class: 'mono optional' },
    ];
    const rendered = table('Platform audit entries, newest first', columns, rows, 'No entries.');
    if (more) {
      const body = $('#audit-table tbody');
      for (const row of rendered.querySelectorAll('tbody tr')) {
        body.append(row);
      }
    } else {
      clear($('#audit-table'), rendered);
    }
    $('#audit-more').hidden = auditBefore === null;
  });
}

$('#audit-refresh').addEventListener('click', () => loadAudit());
$('#audit-more').addEventListener('click', () => loadAudit(true));
$('#audit-verify').addEventListener('click', (event) => act(event.currentTarget, $('#audit-error'), async () => {
  const { data } = await api('GET', '/admin/audit/verify');
  clear($('#audit-verification'), verification(data));
  return data;
}, (data) => (data.intact ? 'The platform audit chain is intact' : 'The platform audit chain is broken')));

// ---- backups and restore jobs

async function loadBackups() {
  await act(null, $('#backups-error'), async () => {
    const { data } = await api('GET', '/admin/backups');
    clear($('#backups-status'), facts(data));
  });
}

$('#backups-refresh').addEventListener('click', () => {
  loadBackups();
  loadJobs();
});
$('#backup-start').addEventListener('click', (event) => act(event.currentTarget, $('#backups-error'), async () => {
  const { data } = await api('POST', '/admin/backups');
  showNotice($('#backups-notice'), 'Base backup ' + (data.id || '') + ' started.');
  await loadBackups();
}, 'Base backup started'));
$('#drill-start').addEventListener('click', (event) => act(event.currentTarget, $('#backups-error'), async () => {
  const { data } = await api('POST', '/admin/backups/verify');
  showNotice($('#backups-notice'), 'Restore drill ' + (data.id || '') + ' started.');
}, 'Restore drill started'));

function showNotice(node, text) {
  node.textContent = text;
  node.hidden = false;
}

function tenantSlugOf(id) {
  const known = tenants.find((t) => t.id === id);
  return known ? known.slug : id || '';
}

function jobsTable(jobs, caption, compact = false) {
  const columns = [
    { label: 'Kind', cell: (j) => j.kind },
    { label: 'Tenant', cell: (j) => tenantSlugOf(j.tenant_id) },
    { label: 'State', cell: (j) => badge(j.state) },
    {
      label: 'Progress',
      cell: (j) => h('span', {},
        j.state === 'running' ? h('progress', { 'aria-label': 'Job ' + j.id + ' running' }) : null,
        ' ', [j.phase, j.progress].filter(Boolean).join(': ')),
    },
    { label: 'Started', cell: (j) => when(j.created_at), class: 'optional' },
    { label: 'Finished', cell: (j) => when(j.finished_at), class: 'optional' },
    { label: 'Outcome', cell: (j) => j.error || (j.result ? JSON.stringify(j.result) : ''), class: 'mono optional' },
  ];
  const shown = compact ? columns.filter((column) => ['Kind', 'State', 'Progress', 'Started'].includes(column.label)) : columns;
  return table(caption, shown, jobs, 'No restore jobs.');
}

async function loadJobs() {
  clearTimeout(jobsTimer);
  try {
    const { data } = await api('GET', '/admin/jobs' + query({ limit: 20 }));
    hideMessage($('#jobs-error'));
    clear($('#jobs-table'), jobsTable(data.jobs, 'Restore jobs, newest first'));
    if (data.jobs.some((j) => j.state === 'running') && !$('#section-backups').hidden) {
      jobsTimer = setTimeout(loadJobs, 3000);
    }
  } catch (error) {
    showError($('#jobs-error'), error);
  }
}

// ---- staff access

/** Slug suggestions for the fields that name a tenant (a datalist: any slug can still be typed). */
function fillTenantSelect() {
  clear($('#tenant-slugs'), tenants.filter((t) => t.status !== 'purged').map((t) => h('option', { value: t.slug })));
  const field = $('#access-tenant');
  if (!field.value && selected) {
    field.value = selected.slug;
  }
}

onSubmit($('#access-tenant-form'), (form, button) => act(button, $('#access-error'), () => loadAccess(form.tenant)));

async function loadAccess(slug) {
  if (!slug) {
    clear($('#access-table'));
    return;
  }
  const { data } = await api('GET', '/admin/tenants/' + segment(slug) + '/access-requests');
  clear($('#access-table'), table('Access requests of ' + slug + ', newest first', [
    { label: 'Requested', cell: (r) => when(r.requested_at) },
    { label: 'Operator', cell: (r) => r.operator },
    { label: 'Reason', cell: (r) => r.reason },
    { label: 'Scope', cell: (r) => r.scope + (r.emergency ? ' (emergency)' : '') },
    { label: 'Minutes', cell: (r) => String(r.duration_minutes), class: 'optional' },
    { label: 'Status', cell: (r) => badge(r.status) },
    { label: 'Uses', cell: (r) => String(r.uses), class: 'optional' },
    { label: 'Action', cell: (r) => accessAction(slug, r) },
  ], data.requests, 'No requests for this tenant.'));
}

function accessAction(slug, request) {
  if (request.status === 'approved' && !request.token_issued) {
    return h('button', {
      type: 'button', class: 'secondary', onclick: (event) => act(event.currentTarget, $('#access-error'), async () => {
        const { data } = await api('POST', '/admin/tenants/' + segment(slug) + '/access-requests/' + segment(request.id) + '/token');
        secretNotice($('#access-notice'), 'Grant token (' + data.scope + ', until ' + data.expires_at + '):', data.token,
          'Shown once: a lost token means a new request.');
        await loadAccess(slug);
      }, 'Token picked up'),
    }, 'Pick up token');
  }
  if (request.status === 'pending' && request.emergency) {
    return h('button', {
      type: 'button', class: 'secondary', onclick: (event) => act(event.currentTarget, $('#access-error'), async () => {
        await api('POST', '/admin/tenants/' + segment(slug) + '/access-requests/' + segment(request.id) + '/approve');
        await loadAccess(slug);
      }, 'Emergency request approved'),
    }, 'Approve (second operator)');
  }
  return '';
}

onSubmit($('#access-request-form'), (form, button) => act(button, $('#access-request-error'), async () => {
  const slug = $('#access-tenant').value;
  if (!slug) {
    throw new Error('Choose a tenant first.');
  }
  await api('POST', '/admin/tenants/' + segment(slug) + '/access-requests', {
    body: { reason: form.reason, scope: form.scope, duration_minutes: Number(form.duration_minutes), emergency: form.emergency },
  });
  $('#access-request-form').reset();
  await loadAccess(slug);
}, 'Access requested: the tenant\u2019s admins decide'));

// ---- start

const show = sections($('#nav'), SECTIONS, (name) => {
  clearTimeout(jobsTimer);
  if (name === 'tenants') {
    loadTenants();
  } else if (name === 'audit') {
    loadAudit();
  } else if (name === 'backups') {
    loadBackups();
    loadJobs();
  } else if (name === 'access') {
    if (!tenants.length) {
      loadTenants().then(() => act(null, $('#access-error'), () => loadAccess($('#access-tenant').value)));
    } else {
      act(null, $('#access-error'), () => loadAccess($('#access-tenant').value));
    }
  }
}, () => key !== null);

function start() {
  showSignedIn(true);
  show();
  announce('Signed in');
  $('#main').focus({ preventScroll: true });
}

if (key) {
  start();
} else {
  showSignedIn(false);
  $('#operator-key').focus();
}
document.body.dataset.ready = 'true';
