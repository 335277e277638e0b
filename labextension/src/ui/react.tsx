/**
 * React pieces the MUSCode views share: following a Lumino signal, and an icon button.
 */
import { LabIcon } from '@jupyterlab/ui-components';
import { ISignal } from '@lumino/signaling';
import * as React from 'react';

/** Re-render a component whenever `signal` fires; returns how often it fired. */
export function useSignalCount(signal: ISignal<object, unknown>): number {
  const [tick, setTick] = React.useState(0);
  React.useEffect(() => {
    const slot = () => setTick(t => t + 1);
    signal.connect(slot);
    return () => {
      signal.disconnect(slot);
    };
  }, [signal]);
  return tick;
}

/** Call `slot` with each value `signal` emits (the latest `slot` of the component). */
export function useSignal<T>(signal: ISignal<unknown, T>, slot: (value: T) => void): void {
  const ref = React.useRef(slot);
  ref.current = slot;
  React.useEffect(() => {
    const handler = (_: unknown, value: T) => ref.current(value);
    signal.connect(handler);
    return () => {
      signal.disconnect(handler);
    };
  }, [signal]);
}

/** A button showing only an icon; `label` is its accessible name and its tooltip. */
export function IconButton(props: {
  icon: LabIcon;
  label: string;
  onClick: () => void;
  className?: string;
  disabled?: boolean;
}): JSX.Element {
  return (
    <button
      type="button"
      className={`muscode-IconButton ${props.className ?? ''}`}
      aria-label={props.label}
      title={props.label}
      disabled={props.disabled}
      onClick={props.onClick}
    >
      <props.icon.react tag="span" elementSize="normal" />
    </button>
  );
}
