/**
 * The labelled form controls of the staff views: a field with its problem announced
 * below it, a text field, and a list edited item by item.
 */
import * as React from 'react';

import type { IFieldProblem } from './model';

export function problemFor(problems: IFieldProblem[], field: string): string | undefined {
  return problems.find(p => p.field === field)?.message;
}

let fieldCounter = 0;
function useFieldId(prefix: string): string {
  const [id] = React.useState(() => `${prefix}-${++fieldCounter}`);
  return id;
}

/** The attributes that tie a control to its label and to its problem, if any. */
interface IControlIds {
  id: string;
  'aria-describedby': string | undefined;
  'aria-invalid': true | undefined;
}

/** A labelled control, with its problem (if any) announced below it. */
export function Field(props: {
  label: string;
  problem?: string;
  children: (ids: IControlIds) => JSX.Element;
}): JSX.Element {
  const id = useFieldId('muscode-f');
  const problemId = `${id}-problem`;
  const describedBy = props.problem ? problemId : undefined;
  return (
    <div className="muscode-Field">
      <label htmlFor={id}>{props.label}</label>
      {props.children({
        id,
        'aria-describedby': describedBy,
        'aria-invalid': describedBy ? true : undefined
      })}
      {props.problem && (
        <span id={problemId} className="muscode-Field-problem" role="alert">
          {props.problem}
        </span>
      )}
    </div>
  );
}

/** What `TextField` hands its control: the ids, the style and the bound value. */
interface ITextControl extends IControlIds {
  className: string;
  value: string;
  onChange: (
    e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement | HTMLSelectElement>
  ) => void;
}

/**
 * A `Field` whose control (an input, a textarea or a select) edits a string:
 * `className` is added to JupyterLab's `jp-mod-styled`.
 */
export function TextField(props: {
  label: string;
  problem?: string;
  className: string;
  value: string;
  onValue: (value: string) => void;
  children: (control: ITextControl) => JSX.Element;
}): JSX.Element {
  const { className, value, onValue } = props;
  return (
    <Field label={props.label} problem={props.problem}>
      {ids =>
        props.children({
          ...ids,
          className: `jp-mod-styled ${className}`,
          value,
          onChange: e => onValue(e.currentTarget.value)
        })
      }
    </Field>
  );
}

/**
 * A list the user edits item by item: each item's fields (`children`, with an
 * `update` that changes that item) and a button that removes it, then an add button.
 */
export function ListEditor<T extends object>(props: {
  className: string;
  legend: string;
  empty: string;
  items: T[];
  onChange: (items: T[]) => void;
  /** Added to `muscode-Editor-item` on each item. */
  itemClassName?: string;
  children: (item: T, update: (change: Partial<T>) => void, index: number) => React.ReactNode;
  removeClassName: string;
  removeLabel: (item: T, index: number) => string;
  addClassName: string;
  addLabel: string;
  onAdd: () => void;
}): JSX.Element {
  const { items, onChange } = props;
  const itemClass = ['muscode-Editor-item', props.itemClassName].filter(Boolean).join(' ');
  return (
    <fieldset className={props.className}>
      <legend>{props.legend}</legend>
      {!items.length && <p className="muscode-Empty">{props.empty}</p>}
      {items.map((item, i) => (
        <div className={itemClass} key={i} data-index={i}>
          {props.children(
            item,
            change => onChange(items.map((x, j) => (j === i ? { ...x, ...change } : x))),
            i
          )}
          <button
            type="button"
            className={`jp-mod-styled ${props.removeClassName}`}
            onClick={() => onChange(items.filter((_, j) => j !== i))}
          >
            {props.removeLabel(item, i)}
          </button>
        </div>
      ))}
      <button type="button" className={`jp-mod-styled ${props.addClassName}`} onClick={props.onAdd}>
        {props.addLabel}
      </button>
    </fieldset>
  );
}
