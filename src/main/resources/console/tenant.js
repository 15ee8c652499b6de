// A tenant admins' console (/t/{tenant}/console): signs in through the tenant's own login route and then calls the
// tenant API with the access token, as any client would. Tokens live in sessionStorage for this tab only.
import { call, query, segment, ApiError } from './api.js';
import {
  $, h, clear, act, onSubmit, table, badge, when, facts, confirmDialog, secretNotice, sections, showError, hideMessage,
  announce, verification,
} from './ui.js';

const SECTIONS = ['users', 'collections', 'records', 'audit', 'access'];
const slug = decodeURIComponent(location.pathname.split('/')[2] || '');
const base = '/t/' + segment(slug);
const STORE = 'silo.tenant.' + slug;

let session = JSON.parse(sessionStorage.getItem(STORE) || 'null');
let me = null;
let usersCursor = null;
let collections = [];
let recordsCursor = null;
let recordsQuery = null;
let record = null;
let recordEtag = null;
let auditBefore = null;
let auditType = '';

$('#tenant-slug').textContent = slug;
document.title = 'Silo admin console: ' + slug;

function keep(tokens) {
  session = { access_token: tokens.access_token, refresh_token: tokens.refresh_token };
  sessionStorage.setItem(STORE, JSON.stringify(session));
}

/** Exchanges the refresh token for a new pair once; false when the session is over. */
async function refresh() {
  if (!session || !session.refresh_token) {
    return false;
  }
  try {
    const { data } = await call('POST', base + '/auth/refresh', { body: { refresh_token: session.refresh_token } });
    keep(data);
    return true;
  } catch {
    return false;
  }
}

/** A call with the access token; an expired token is refreshed once, a session that ended signs out. */
async function api(method, path, options = {}) {
  if (!session) {
    throw new ApiError(401, { title: 'Unauthorized', detail: 'sign in first' });
  }
  try {
    return await call(method, base + path, { ...options, token: session.access_token });
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) {
      throw error;
    }
    if (await refresh()) {
      return call(method, base + path, { ...options, token: session.access_token });
    }
    signOut('Your session ended (' + error.message + '). Sign in again.');
    throw error;
  }
}

// ---- sign-in

function showSignedIn(signedIn) {
  $('#sign-in').hidden = signedIn;
  $('#nav').hidden = !signedIn;
  $('#sign-out').hidden = !signedIn;
  $('#who').hidden = !signedIn;
  if (!signedIn) {
    for (const name of SECTIONS) {
      document.getElementById('section-' + name).hidden = true;
    }
  }
}

function signOut(message) {
  const ending = session;
  session = null;
  me = null;
  sessionStorage.removeItem(STORE);
  if (ending) {
    // Ends the session on the server too (its refresh token and access tokens); failure changes nothing here.
    call('POST', base + '/auth/logout', { token: ending.access_token }).catch(() => {});
  }
  showSignedIn(false);
  clear($('#recovery-codes'));
  $('#recovery-codes').hidden = true;
  const error = $('#sign-in-error');
  if (message) {
    showError(error, message);
  } else {
    hideMessage(error);
  }
  $('#password').value = '';
  $('#email').focus();
}

onSubmit($('#sign-in-form'), (form, button) => act(button, $('#sign-in-error'), async () => {
  let data;
  try {
    ({ data } = await call('POST', base + '/auth/login', { body: { email: form.email, password: form.password } }));
  } catch (error) {
    if (error instanceof ApiError && (error.type.endsWith('/mfa-required') || error.type.endsWith('/mfa-enrolment-required'))) {
      $('#password').value = '';
      await askSecondFactor(error);
      return;
    }
    throw error;
  }
  keep(data);
  $('#password').value = '';
  await start();
}));

// ---- second factor: the login's 401 carries a ticket; the code (or a recovery code) goes to /auth/mfa with it

let mfaTicket = null;

async function askSecondFactor(error) {
  mfaTicket = error.problem.ticket;
  const enrol = error.type.endsWith('/mfa-enrolment-required');
  $('#mfa-intro').textContent = enrol
    ? 'This tenant requires two-factor authentication: set up an authenticator app to sign in.'
    : 'Enter the 6-digit code from your authenticator app, or one of your recovery codes.';
  $('#mfa-setup').hidden = true;
  if (enrol) {
    const { data } = await call('POST', base + '/auth/mfa/totp', { body: { ticket: mfaTicket } });
    $('#mfa-secret').textContent = data.secret;
    $('#mfa-uri').textContent = data.otpauth_uri;
    $('#mfa-setup').hidden = false;
  }
  hideMessage($('#mfa-error'));
  $('#sign-in-form').hidden = true;
  $('#mfa-form').hidden = false;
  $('#mfa-code').value = '';
  $('#mfa-code').focus();
}

function endSecondFactor() {
  mfaTicket = null;
  $('#mfa-secret').textContent = '';
  $('#mfa-uri').textContent = '';
  $('#mfa-form').hidden = true;
  $('#sign-in-form').hidden = false;
}

onSubmit($('#mfa-form'), (form, button) => act(button, $('#mfa-error'), async () => {
  const code = form.code.replace(/\s+/g, '');
  const body = /^\d{6}$/.test(code) ? { ticket: mfaTicket, code } : { ticket: mfaTicket, recovery_code: code };
  const { data } = await call('POST', base + '/auth/mfa', { body });
  endSecondFactor();
  keep(data);
  await start();
  if (data.recovery_codes) {
    // Shown once, like a new service credential: the server keeps only their hashes.
    secretNotice($('#recovery-codes'), 'Your recovery codes (each works once if you lose your authenticator; they are not shown again)',
      data.recovery_codes.join('\n'));
  }
}));

$('#mfa-cancel').addEventListener('click', () => {
  endSecondFactor();
  $('#email').focus();
});

$('#sign-out').addEventListener('click', () => signOut());

async function start() {
  const { data } = await api('GET', '/me');
  me = data;
  if (me.role !== 'admin') {
    signOut('This console is for the tenant\u2019s admins; ' + me.email + ' is a ' + me.role + '.');
    return;
  }
  $('#who').textContent = me.email;
  showSignedIn(true);
  show();
  announce('Signed in as ' + me.email);
  $('#main').focus({ preventScroll: true });
}

// ---- users

async function loadUsers(more = false) {
  await act(null, $('#users-error'), async () => {
    const { data } = await api('GET', '/users' + query({ limit: 50, cursor: more ? usersCursor : null }));
    usersCursor = data.next_cursor;
    const rendered = usersTable(data.users);
    if (more) {
      const body = $('#users-table tbody');
      for (const row of rendered.querySelectorAll('tbody tr')) {
        body.append(row);
      }
    } else {
      clear($('#users-table'), rendered);
    }
    $('#users-more').hidden = !usersCursor;
  });
}

function usersTable(users) {
  return table('Users, oldest first', [
    { label: 'E-mail', cell: (u) => u.email + (me && u.id === me.id ? ' (you)' : '') },
    {
      label: 'Role',
      cell: (u) => {
        const select = h('select', { 'aria-label': 'Role of ' + u.email, dataset: { user: u.email } },
          ['member', 'admin'].map((role) => h('option', { value: role, selected: role === u.role ? true : undefined }, role)));
        // The table is reloaded either way, so a refused change (409 last-admin) shows the role as it stays.
        select.addEventListener('change', () => act(select, $('#users-error'), async () => {
          await api('PATCH', '/users/' + segment(u.id), { body: { role: select.value } });
        }, u.email + ' is now ' + select.value).then(() => reloadUsersKeepingError()));
        return select;
      },
    },
    { label: 'Status', cell: (u) => badge(u.disabled ? 'disabled' : 'active') },
    { label: 'Created', cell: (u) => when(u.created_at), class: 'optional' },
    {
      label: 'Actions',
      cell: (u) => h('span', { class: 'actions' },
        h('button', {
          type: 'button', class: 'secondary', 'aria-label': (u.disabled ? 'Enable ' : 'Disable ') + u.email,
          onclick: (event) => act(event.currentTarget, $('#users-error'), async () => {
            await api('PATCH', '/users/' + segment(u.id), { body: { disabled: !u.disabled } });
            await loadUsers();
          }, u.email + (u.disabled ? ' enabled' : ' disabled')),
        }, u.disabled ? 'Enable' : 'Disable'),
        h('button', {
          type: 'button', class: 'secondary', 'aria-label': 'Reset the password of ' + u.email,
          onclick: (event) => act(event.currentTarget, $('#users-error'), async () => {
            const { data } = await api('POST', '/users/' + segment(u.id) + '/password-reset');
            secretNotice($('#users-notice'), 'Password reset token for ' + u.email + ' (valid until ' + data.expires_at + '):',
              data.reset_token, 'Shown once: hand it to them; they set a new password with POST ' + base + '/auth/password-reset.');
          }, 'Reset token issued'),
        }, 'Reset password'),
        h('button', {
          type: 'button', class: 'danger', 'aria-label': 'Delete ' + u.email,
          onclick: async (event) => {
            const button = event.currentTarget;
            const answer = await confirmDialog({ title: 'Delete ' + u.email + '?', text: 'The account and its sessions end for good.', confirmLabel: 'Delete', danger: true });
            if (answer) {
              await act(button, $('#users-error'), async () => {
                await api('DELETE', '/users/' + segment(u.id));
                await loadUsers();
              }, u.email + ' deleted');
            }
          },
        }, 'Delete')),
    },
  ], users, 'No users.');
}

/** Reloads the table without hiding an error an action just showed. */
async function reloadUsersKeepingError() {
  try {
    const { data } = await api('GET', '/users' + query({ limit: 50 }));
    usersCursor = data.next_cursor;
    clear($('#users-table'), usersTable(data.users));
    $('#users-more').hidden = !usersCursor;
  } catch (error) {
    showError($('#users-error'), error);
  }
}

$('#users-more').addEventListener('click', () => loadUsers(true));

onSubmit($('#user-form'), (form, button) => act(button, $('#user-error'), async () => {
  await api('POST', '/users', { body: { email: form.email, role: form.role, password: form.password } });
  $('#user-form').reset();
  await loadUsers();
}, 'User created'));

// ---- collections

async function loadCollections() {
  await act(null, $('#collections-error'), async () => {
    const { data } = await api('GET', '/collections');
    collections = data.collections;
    clear($('#collections-table'), table('Collections', [
      { label: 'Name', cell: (c) => c.name },
      { label: 'Fields', cell: (c) => fieldSummary(c.schema) },
      { label: 'Updated', cell: (c) => when(c.updated_at), class: 'optional' },
      {
        label: 'Actions',
        cell: (c) => h('span', { class: 'actions' },
          h('button', { type: 'button', class: 'secondary', 'aria-label': 'Browse ' + c.name, onclick: () => browse(c.name) }, 'Records'),
          h('button', { type: 'button', class: 'secondary', 'aria-label': 'Edit the schema of ' + c.name, onclick: () => editCollection(c) }, 'Edit schema'),
          h('button', { type: 'button', class: 'danger', 'aria-label': 'Delete ' + c.name, onclick: (event) => deleteCollection(event.currentTarget, c) }, 'Delete')),
      },
    ], collections, 'No collections yet: create one below.'));
    fillCollectionSelect();
  });
}

function fieldSummary(schema) {
  if (!schema || !schema.fields) {
    return h('em', {}, 'no schema: any JSON object');
  }
  return Object.entries(schema.fields).map(([name, field]) =>
    name + ': ' + field.type + (field.required ? ', required' : '') + (field.encrypted ? ', encrypted' : '')).join('; ');
}

function editCollection(collection) {
  $('#collection-name').value = collection.name;
  $('#collection-schema').value = collection.schema ? JSON.stringify(collection.schema, null, 2) : '';
  $('#collection-schema').focus();
}

async function deleteCollection(button, collection) {
  const answer = await confirmDialog({
    title: 'Delete the collection ' + collection.name + '?',
    text: 'A collection that still holds records is refused unless you also delete its records.',
    confirmLabel: 'Delete',
    danger: true,
    typed: collection.name,
    extra: [h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'force', id: 'collection-force' }), 'Delete its records too')],
  });
  if (answer) {
    await act(button, $('#collections-error'), async () => {
      await api('DELETE', '/collections/' + segment(collection.name) + query({ force: answer.force ? 'true' : null }));
      await loadCollections();
    }, 'Collection ' + collection.name + ' deleted');
  }
}

onSubmit($('#collection-form'), (form, button) => act(button, $('#collection-error'), async () => {
  let body = '';
  if (form.schema) {
    try {
      body = JSON.stringify(JSON.parse(form.schema));
    } catch (error) {
      throw new Error('The schema is not JSON: ' + error.message);
    }
  }
  const { status } = await api('PUT', '/collections/' + segment(form.name), body ? { body } : {});
  $('#collection-form').reset();
  await loadCollections();
  return status;
}, (status) => (status === 201 ? 'Collection created' : 'Collection updated')));

function fillCollectionSelect() {
  const select = $('#records-collection');
  const current = select.value;
  clear(select, collections.map((c) => h('option', { value: c.name, selected: c.name === current ? true : undefined }, c.name)));
}

// ---- records

function browse(name) {
  $('#records-collection').value = name;
  location.hash = '#records';
  if (!$('#section-records').hidden) {
    searchRecords();
  }
}

function currentQuery() {
  const form = $('#records-query');
  const params = { limit: 50, sort: form.sort.value.trim() || null };
  const field = form.field.value.trim();
  if (field) {
    params['filter[' + field + ']'] = form.value.value;
  }
  return { collection: form.collection.value, params };
}

async function searchRecords(more = false) {
  await act(null, $('#records-error'), async () => {
    if (!more) {
      recordsQuery = currentQuery();
    }
    if (!recordsQuery.collection) {
      clear($('#records-table'), h('p', { class: 'hint' }, 'Create a collection first.'));
      return;
    }
    const { data } = await api('GET', '/collections/' + segment(recordsQuery.collection) + '/records'
      + query({ ...recordsQuery.params, cursor: more ? recordsCursor : null }));
    recordsCursor = data.next_cursor;
    const rendered = table('Records of ' + recordsQuery.collection, [
      {
        label: 'Id',
        cell: (r) => h('button', { type: 'button', class: 'link mono', 'aria-label': 'Edit record ' + r.id, dataset: { record: r.id }, onclick: () => openRecord(recordsQuery.collection, r.id) }, r.id),
      },
      { label: 'Version', cell: (r) => String(r.version), class: 'optional' },
      { label: 'Updated', cell: (r) => when(r.updated_at), class: 'optional' },
      { label: 'Data', cell: (r) => JSON.stringify(r.data), class: 'mono' },
    ], data.records, 'No records match.');
    if (more) {
      const body = $('#records-table tbody');
      for (const row of rendered.querySelectorAll('tbody tr')) {
        body.append(row);
      }
    } else {
      clear($('#records-table'), rendered);
    }
    $('#records-more').hidden = !recordsCursor;
  });
}

onSubmit($('#records-query'), () => searchRecords());
$('#records-more').addEventListener('click', () => searchRecords(true));

function parseObject(text) {
  let value;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error('The data is not JSON: ' + error.message);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error('The data must be a JSON object, such as {"title": "Dune"}.');
  }
  return value;
}

onSubmit($('#new-record-form'), (form, button) => act(button, $('#new-record-error'), async () => {
  const collection = $('#records-collection').value;
  if (!collection) {
    throw new Error('Choose a collection above first.');
  }
  const { data } = await api('POST', '/collections/' + segment(collection) + '/records', { body: parseObject(form.data) });
  $('#new-record-data').value = '{}';
  await searchRecords();
  await openRecord(collection, data.id, false);
  return data;
}, 'Record created'));

async function openRecord(collection, id, focus = true) {
  await act(null, $('#record-error'), async () => {
    const { data, etag } = await api('GET', '/collections/' + segment(collection) + '/records/' + segment(id));
    showRecord(data, etag);
    $('#record-editor').hidden = false;
    if (focus) {
      $('#record-data').focus();
    }
  });
}

function showRecord(data, etag) {
  record = data;
  recordEtag = etag;
  $('#record-editor-title').textContent = 'Record in ' + data.collection;
  clear($('#record-facts'), facts({
    id: h('span', { class: 'mono' }, data.id),
    version: String(data.version),
    etag: h('span', { class: 'mono', id: 'record-etag' }, etag || ''),
    created: when(data.created_at),
    updated: when(data.updated_at),
  }));
  $('#record-data').value = JSON.stringify(data.data, null, 2);
}

onSubmit($('#record-form'), (form, button) => act(button, $('#record-error'), async () => {
  const path = '/collections/' + segment(record.collection) + '/records/' + segment(record.id);
  const { data, etag } = await api('PUT', path, { body: parseObject(form.data), headers: { 'If-Match': recordEtag } });
  showRecord(data, etag);
  await searchRecords();
  return data;
}, (saved) => 'Saved: version ' + saved.version));

$('#reload-record').addEventListener('click', () => record && openRecord(record.collection, record.id));

$('#delete-record').addEventListener('click', async (event) => {
  const button = event.currentTarget;
  const answer = await confirmDialog({ title: 'Delete this record?', text: 'Record ' + record.id + ' is deleted for good.', confirmLabel: 'Delete', danger: true });
  if (answer) {
    await act(button, $('#record-error'), async () => {
      await api('DELETE', '/collections/' + segment(record.collection) + '/records/' + segment(record.id), { headers: { 'If-Match': recordEtag } });
      $('#record-editor').hidden = true;
      record = null;
      await searchRecords();
    }, 'Record deleted');
  }
});

// ---- audit

async function loadAudit(more = false) {
  await act(null, $('#audit-error'), async () => {
    const { data } = await api('GET', '/audit' + query({ limit: 50, type: auditType || null, before: more ? auditBefore : null }));
    auditBefore = data.next_before;
    const rendered = table('Audit entries, newest first', [
      { label: 'Seq', cell: (e) => String(e.seq), class: 'optional' },
      { label: 'Time', cell: (e) => when(e.at) },
      { label: 'Type', cell: (e) => e.type },
      { label: 'Actor', cell: (e) => e.actor || '' },
      { label: 'Subject', cell: (e) => e.subject || '', class: 'mono optional' },
      { label: 'Client', cell: (e) => e.client_ip || '', class: 'optional' },
      { label: 'Detail', cell: (e) => e.detail || '', class: 'mono' },
    ], data.entries, 'No entries.');
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

onSubmit($('#audit-query'), (form) => {
  auditType = form.type;
  loadAudit();
});
$('#audit-more').addEventListener('click', () => loadAudit(true));
$('#audit-verify').addEventListener('click', (event) => act(event.currentTarget, $('#audit-error'), async () => {
  const { data } = await api('GET', '/audit/verify');
  clear($('#audit-verification'), verification(data));
  return data;
}, (data) => (data.intact ? 'The audit chain is intact' : 'The audit chain is broken')));

// ---- staff access

async function loadAccess() {
  await act(null, $('#access-error'), async () => {
    const { data } = await api('GET', '/access-requests');
    clear($('#access-table'), table('Staff access requests, newest first', [
      { label: 'Requested', cell: (r) => when(r.requested_at) },
      { label: 'Operator', cell: (r) => r.operator + (r.operator_email ? ' <' + r.operator_email + '>' : '') },
      { label: 'Reason', cell: (r) => r.reason },
      { label: 'Scope', cell: (r) => r.scope + (r.emergency ? ' (emergency)' : '') },
      { label: 'Minutes', cell: (r) => String(r.duration_minutes), class: 'optional' },
      { label: 'Status', cell: (r) => badge(r.status) },
      { label: 'Uses', cell: (r) => String(r.uses), class: 'optional' },
      { label: 'Decision', cell: (r) => accessActions(r) },
    ], data.requests, 'No staff access requests.'));
  });
}

function accessActions(request) {
  const decide = (label, method, path, done, danger) => h('button', {
    type: 'button', class: danger ? 'danger' : 'secondary', 'aria-label': label + ' the request of ' + request.operator,
    onclick: (event) => act(event.currentTarget, $('#access-error'), async () => {
      await api(method, '/access-requests/' + segment(request.id) + path);
      await loadAccess();
    }, done),
  }, label);
  if (request.status === 'pending') {
    return h('span', { class: 'actions' }, decide('Approve', 'POST', '/approve', 'Request approved'),
      decide('Deny', 'POST', '/deny', 'Request denied', true));
  }
  if (request.status === 'approved') {
    return decide('Revoke', 'DELETE', '', 'Grant revoked', true);
  }
  return '';
}

// ---- start

const show = sections($('#nav'), SECTIONS, (name) => {
  if (name === 'users') {
    loadUsers();
  } else if (name === 'collections') {
    loadCollections();
  } else if (name === 'records') {
    (collections.length ? Promise.resolve() : loadCollections()).then(() => searchRecords());
  } else if (name === 'audit') {
    loadAudit();
  } else if (name === 'access') {
    loadAccess();
  }
}, () => me !== null);

if (!/^[a-z][a-z0-9-]{1,39}$/.test(slug)) {
  showSignedIn(false);
  showError($('#sign-in-error'), 'This address names no tenant: the console of tenant SLUG is at /t/SLUG/console.');
} else if (session) {
  start().catch((error) => {
    if (session) {
      signOut(error.message);
    }
  });
} else {
  showSignedIn(false);
  $('#email').focus();
}
document.body.dataset.ready = 'true';
