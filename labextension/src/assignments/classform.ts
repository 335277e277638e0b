/**
 * The dialogs that make a class (slug, title, term) and change one (title, term), and
 * the confirmation before archiving one.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { TranslationBundle } from '@jupyterlab/translation';
import { Widget } from '@lumino/widgets';

import type { Class, ClassCreate } from '../types';
import { confirm, field } from '../ui/dialogs';

/** What a class's slug may be (the server's rule): lowercase letters, digits, dashes. */
export const SLUG_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/;

/** A slug suggested by a title: `Intro to C (2026)` becomes `intro-to-c-2026`. */
export function slugOf(title: string): string {
  return title
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
}

class ClassForm extends Widget implements Dialog.IBodyWidget<ClassCreate> {
  constructor(trans: TranslationBundle, klass: Class | null) {
    super();
    this.addClass('muscode-Form');
    this.addClass('muscode-ClassForm');
    const input = (className: string, value: string, maxLength: number) => {
      const el = document.createElement('input');
      el.type = 'text';
      el.maxLength = maxLength;
      el.value = value;
      el.classList.add('jp-mod-styled', className);
      return el;
    };
    this._name = input('muscode-ClassForm-name', klass?.name ?? '', 255);
    this._slug = input('muscode-ClassForm-slug', klass?.slug ?? '', 64);
    this._term = input('muscode-ClassForm-term', klass?.term ?? '', 64);
    this._term.placeholder = trans.__('e.g. Fall 2026');
    field(this.node, trans.__('Title'), this._name);
    if (!klass) {
      this._slug.placeholder = trans.__('lowercase letters, digits and dashes');
      field(this.node, trans.__('Short name (slug; cannot change later)'), this._slug);
      // the slug follows the title until the user types one
      let typed = false;
      this._slug.addEventListener('input', () => (typed = true));
      this._name.addEventListener('input', () => {
        if (!typed) {
          this._slug.value = slugOf(this._name.value);
        }
      });
    }
    field(this.node, trans.__('Term (optional)'), this._term);
  }

  getValue(): ClassCreate {
    const body: ClassCreate = { name: this._name.value.trim(), slug: this._slug.value.trim() };
    body.term = this._term.value.trim();
    return body;
  }

  private _name: HTMLInputElement;
  private _slug: HTMLInputElement;
  private _term: HTMLInputElement;
}

/**
 * Ask for a new class (`klass` null) or a class's new title and term. Resolves with
 * what was typed, or null when cancelled.
 */
export async function askClass(
  trans: TranslationBundle,
  klass: Class | null
): Promise<ClassCreate | null> {
  const result = await showDialog({
    title: klass ? trans.__('Edit %1', klass.name) : trans.__('New class'),
    body: new ClassForm(trans, klass),
    focusNodeSelector: 'input',
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.okButton({ label: klass ? trans.__('Save') : trans.__('Create class') })
    ]
  });
  return result.button.accept && result.value ? result.value : null;
}

export function confirmArchive(trans: TranslationBundle, klass: Class): Promise<boolean> {
  return confirm(
    trans,
    trans.__('Archive %1', klass.name),
    trans.__(
      'Archive "%1"? It leaves the list of classes and takes no new submissions; its members can still read its assignments and grades.',
      klass.name
    ),
    trans.__('Archive')
  );
}
