// Small DOM helpers shared by both consoles. Everything from the API is put in the page as text (textContent,
// never innerHTML), so a tenant name or a record value cannot become markup.

/** h('button', {type: 'button', class: 'secondary', onclick: fn}, 'Suspend') */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) {
      continue;
    }
    if (key.startsWith('on') && typeof value === 'function') {
      node.addEventListener(key.slice(2), value);
    } else if (key === 'class') {
      node.className = value;
    } else if (key === 'dataset') {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(key, '');
    } else {
      node.setAttribute(key, String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) {
      continue;
    }
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** Shows an error (an ApiError's "title: detail", or any Error) in a message element, and moves focus there. */
export function showError(node, error) {
  node.textContent = error && error.message ? error.message : String(error);
  node.hidden = false;
  node.setAttribute('role', 'alert');
}

export function hideMessage(node) {
  node.hidden = true;
  node.textContent = '';
}

let liveRegion;

/** Says something to screen readers and shows it briefly in the status line. */
export function announce(text) {
  if (!liveRegion) {
    liveRegion = document.getElementById('status');
  }
  if (liveRegion) {
    liveRegion.textContent = text;
  }
}

/**
 * Runs an action from a button or form: disables the control while it runs, shows the error in `errorNode`
 * (or announces success), and never lets a rejected promise go unhandled.
 */
export async function act(control, errorNode, action, success) {
  if (errorNode) {
    hideMessage(errorNode);
  }
  if (control) {
    control.disabled = true;
  }
  try {
    const result = await action();
    if (success) {
      announce(typeof success === 'function' ? success(result) : success);
    }
    return result;
  } catch (error) {
    if (errorNode) {
      showError(errorNode, error);
    } else {
      announce(error.message);
    }
    return undefined;
  } finally {
    if (control) {
      // Back as the page last said it should be (see allow): an action may have made it pointless (Suspend on a
      // tenant it just suspended).
      control.disabled = control.dataset.allowed === 'false';
    }
  }
}

/** Enables or disables a button for what the page now shows; act() restores this state after running. */
export function allow(control, allowed) {
  control.dataset.allowed = String(Boolean(allowed));
  control.disabled = !allowed;
}

/** The values of a form's named fields; checkboxes as booleans, text trimmed. */
export function values(form) {
  const out = {};
  for (const element of form.elements) {
    if (!element.name) {
      continue;
    }
    if (element.type === 'checkbox') {
      out[element.name] = element.checked;
    } else if (element.type === 'password') {
      out[element.name] = element.value;
    } else {
      out[element.name] = element.value.trim();
    }
  }
  return out;
}

/** A form's submit handled by script only (the CSP forbids a form to submit anywhere). */
export function onSubmit(form, handler) {
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    handler(values(form), button, event);
  });
}

/**
 * A table: columns are {label, cell: row => Node|string, class?}. An empty list shows `empty` in one cell.
 * The caption names the table for screen readers.
 */
export function table(caption, columns, rows, empty = 'Nothing yet.') {
  const head = h('tr', {}, columns.map((column) => h('th', { scope: 'col', class: column.class }, column.label)));
  const body = rows.length
    ? rows.map((row) => h('tr', { dataset: row.__key ? { key: row.__key } : undefined },
      columns.map((column) => h('td', { class: column.class }, column.cell(row)))))
    : [h('tr', {}, h('td', { colspan: columns.length, class: 'empty' }, empty))];
  return h('div', { class: 'table-wrap' },
    h('table', {}, h('caption', { class: 'visually-hidden' }, caption), h('thead', {}, head), h('tbody', {}, body)));
}

export function badge(text) {
  return h('span', { class: 'badge ' + String(text).replace(/[^a-z-]/g, '') }, text);
}

/** An ISO instant as local date and time, with the exact value in a tooltip. */
export function when(value) {
  if (!value) {
    return '';
  }
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) {
    return String(value);
  }
  return h('time', { datetime: value, title: value }, date.toLocaleString());
}

export function bytes(count) {
  if (count === null || count === undefined) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return (unit === 0 ? value : value.toFixed(1)) + ' ' + units[unit];
}

/** A definition list of an object's scalar members; nested values as JSON. */
export function facts(object, labels = {}) {
  const list = h('dl', { class: 'facts' });
  for (const [key, value] of Object.entries(object || {})) {
    if (value === undefined) {
      continue;
    }
    list.append(h('dt', {}, labels[key] || key.replaceAll('_', ' ')));
    list.append(h('dd', {}, value instanceof Node ? value : typeof value === 'object' && value !== null
      ? h('pre', { class: 'json' }, JSON.stringify(value, null, 2)) : value === null ? '—' : String(value)));
  }
  return list;
}

/**
 * Asks for confirmation in a modal dialog. With `typed`, the confirm button stays disabled until the person
 * types that text (a purge asks for the slug). Resolves to the form's values, or null when cancelled.
 */
export function confirmDialog({ title, text, confirmLabel, danger = false, typed, extra = [] }) {
  return new Promise((resolve) => {
    const input = typed ? h('input', { type: 'text', id: 'confirm-typed', name: 'typed', autocomplete: 'off', spellcheck: 'false' }) : null;
    const confirm = h('button', { type: 'submit', class: danger ? 'danger' : '', id: 'confirm-ok', disabled: typed ? true : undefined }, confirmLabel);
    const cancel = h('button', { type: 'button', class: 'secondary', id: 'confirm-cancel' }, 'Cancel');
    const form = h('form', { method: 'dialog' },
      h('h2', { id: 'confirm-title' }, title),
      h('p', {}, text),
      typed ? h('div', { class: 'field' }, h('label', { for: 'confirm-typed' }, 'Type ', h('strong', {}, typed), ' to confirm'), input) : null,
      extra,
      h('div', { class: 'actions' }, confirm, cancel));
    const dialog = h('dialog', { 'aria-labelledby': 'confirm-title' }, form);
    let answer = null;
    if (input) {
      input.addEventListener('input', () => {
        confirm.disabled = input.value !== typed;
      });
    }
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (typed && input.value !== typed) {
        return;
      }
      answer = values(form);
      dialog.close();
    });
    cancel.addEventListener('click', () => dialog.close());
    dialog.addEventListener('close', () => {
      dialog.remove();
      resolve(answer);
    });
    document.body.append(dialog);
    dialog.showModal();
    (input || confirm).focus();
  });
}

/** Shows a secret once (a reset token, a grant token) with a note that it will not be shown again. */
export function secretNotice(node, label, secret, note) {
  clear(node,
    h('p', {}, h('strong', {}, label), ' ', note || 'Shown once: copy it now.'),
    h('p', { class: 'secret', tabindex: '0' }, secret));
  node.hidden = false;
}

/**
 * Sections selected by the URL's fragment (#users): each nav link's section is shown, the others hidden, and
 * the link marked aria-current. Calls `onShow(name)` when a section appears; does nothing while `active()` is
 * false (signed out).
 */
export function sections(nav, names, onShow, active = () => true) {
  let current = null;
  function show() {
    if (!active()) {
      return;
    }
    const wanted = location.hash.slice(1);
    if (!names.includes(wanted) && current !== null && document.getElementById('section-' + current).hidden === false) {
      return; // another fragment (the skip link's #main): the section shown stays
    }
    const name = names.includes(wanted) ? wanted : names[0];
    current = name;
    for (const other of names) {
      document.getElementById('section-' + other).hidden = other !== name;
    }
    for (const link of nav.querySelectorAll('a')) {
      if (link.getAttribute('href') === '#' + name) {
        link.setAttribute('aria-current', 'page');
      } else {
        link.removeAttribute('aria-current');
      }
    }
    onShow(name);
  }
  window.addEventListener('hashchange', show);
  return show;
}

/** The answer of a chain verification (platform or tenant audit): a one-line verdict, the fields folded below. */
export function verification(result) {
  const { intact, reason, ...rest } = result;
  const summary = reason || (rest.entries + ' entries verified, last seq ' + rest.last_seq + ', '
    + rest.checkpoints + ' checkpoint(s) matched');
  return h('div', { class: intact ? 'notice' : 'error', id: 'verification-result' },
    h('p', {}, badge(intact ? 'intact' : 'broken'), ' ', summary),
    h('details', {}, h('summary', {}, 'Details'), facts(rest)));
}
