// Actions: a button that opens a confirmation <dialog>, runs the POST, and shows its result or its { code, message }.
import { ApiError } from './api.js';
import { h } from './dom.js';

/** What the app knows about the server (GET api/info); `readOnly` disables every action button. */
export const session = { readOnly: false, path: '', version: '' };

let noticeTimer;

/** Shows a line in the page's live region (success of an action, a refresh failure). */
export function notify(text, kind = 'ok') {
  const region = document.getElementById('notice');
  if (!region) return;
  region.className = `notice ${kind}`;
  region.textContent = text;
  region.hidden = false;
  clearTimeout(noticeTimer);
  if (kind === 'ok') noticeTimer = setTimeout(() => (region.hidden = true), 6000);
}

/**
 * A button for an action. Read-only servers get it disabled with the reason in its title; the server
 * refuses such POSTs with 403 anyway.
 * options: { label, testid, danger, title (dialog heading), message, fields, confirmLabel, run(values), done(result) }
 */
export function actionButton(options) {
  const button = h(
    'button',
    {
      type: 'button',
      class: options.danger ? 'action danger' : 'action',
      testid: options.testid,
      dataset: { focusKey: options.testid },
      disabled: session.readOnly,
      title: session.readOnly ? 'read-only: actions are disabled' : undefined,
      onclick: () => confirmAction(options, button),
    },
    options.label,
  );
  return button;
}

/** Opens the confirmation dialog; resolves when it closes. */
export function confirmAction(options, opener) {
  const inputs = new Map();
  const fields = (options.fields ?? []).map((field) => {
    const id = `field-${field.name}`;
    const input =
      field.type === 'textarea'
        ? h('textarea', { id, name: field.name, rows: 5, placeholder: field.placeholder, testid: `dialog-${field.name}`, spellcheck: 'false' }, field.value ?? '')
        : h('input', { id, name: field.name, type: 'text', value: field.value ?? '', placeholder: field.placeholder, required: field.required, testid: `dialog-${field.name}`, autocomplete: 'off' });
    inputs.set(field.name, input);
    return h('div', { class: 'field' }, h('label', { for: id }, field.label), input, field.hint ? h('small', { class: 'muted' }, field.hint) : null);
  });
  const error = h('p', { class: 'dialog-error', role: 'alert', testid: 'dialog-error', hidden: true });
  const confirm = h('button', { type: 'submit', class: options.danger ? 'action danger' : 'action primary', testid: 'dialog-confirm' }, options.confirmLabel ?? options.label);
  const dismiss = h('button', { type: 'button', class: 'action', testid: 'dialog-dismiss', onclick: () => dialog.close() }, 'Close');
  const form = h(
    'form',
    { method: 'dialog', onsubmit: (event) => submit(event) },
    h('h2', { id: 'dialog-title' }, options.title ?? options.label),
    options.message ? h('p', {}, options.message) : null,
    fields,
    error,
    h('div', { class: 'dialog-buttons' }, dismiss, confirm),
  );
  const dialog = h('dialog', { testid: 'confirm-dialog', 'aria-labelledby': 'dialog-title' }, form);

  async function submit(event) {
    event.preventDefault();
    const values = {};
    for (const field of options.fields ?? []) {
      const raw = inputs.get(field.name).value;
      const problem = field.validate ? field.validate(raw) : field.required && !raw.trim() ? `${field.label} is required` : undefined;
      if (problem) return showError(problem, inputs.get(field.name));
      values[field.name] = raw;
    }
    confirm.disabled = true;
    confirm.textContent = 'Working…';
    error.hidden = true;
    try {
      const result = await options.run(values);
      dialog.close();
      options.done?.(result);
    } catch (err) {
      showError(err instanceof ApiError ? err.describe() : err instanceof Error ? err.message : String(err));
    } finally {
      confirm.disabled = false;
      confirm.textContent = options.confirmLabel ?? options.label;
    }
  }

  function showError(text, focus) {
    error.textContent = text;
    error.hidden = false;
    (focus ?? dismiss).focus();
  }

  document.body.append(dialog);
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => {
      dialog.remove();
      opener?.focus();
      resolve();
    });
    dialog.showModal();
    (fields.length ? inputs.values().next().value : confirm).focus();
  });
}

/** Whether a dialog is open (the live refresh waits, so it does not re-render under the user). */
export function dialogOpen() {
  return document.querySelector('dialog[open]') !== null;
}
