/**
 * What the executed copy reads of an nbformat 4 notebook: its cells, and each output
 * as a mime bundle for JupyterLab's renderers. Anything malformed is skipped.
 */
import type { ReadonlyPartialJSONObject } from '@lumino/coreutils';

/** The parts of an nbformat 4 cell the executed copy reads. */
export interface ICellLike {
  cell_type: string;
  source: string;
  outputs: ReadonlyPartialJSONObject[];
  execution_count: number | null;
}

function text(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  return Array.isArray(value) ? value.filter(v => typeof v === 'string').join('') : '';
}

function isObject(value: unknown): value is ReadonlyPartialJSONObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The cells of an executed notebook (nothing for anything that is not one). */
export function cellsOf(notebook: unknown): ICellLike[] {
  if (!isObject(notebook) || !Array.isArray(notebook.cells)) {
    return [];
  }
  return notebook.cells.filter(isObject).map(c => ({
    cell_type: typeof c.cell_type === 'string' ? c.cell_type : 'raw',
    source: text(c.source),
    outputs: Array.isArray(c.outputs) ? c.outputs.filter(isObject) : [],
    execution_count: typeof c.execution_count === 'number' ? c.execution_count : null
  }));
}

/** An nbformat output as a mime bundle a renderer takes. */
export function bundleOf(output: ReadonlyPartialJSONObject): ReadonlyPartialJSONObject | null {
  switch (output.output_type) {
    case 'stream':
      return {
        [output.name === 'stderr'
          ? 'application/vnd.jupyter.stderr'
          : 'application/vnd.jupyter.stdout']: text(output.text)
      };
    case 'error': {
      const traceback = Array.isArray(output.traceback) ? output.traceback : [];
      const lines = traceback.filter(t => typeof t === 'string');
      const head = `${text(output.ename)}: ${text(output.evalue)}`;
      return { 'application/vnd.jupyter.stderr': lines.length ? lines.join('\n') : head };
    }
    case 'execute_result':
    case 'display_data':
      return isObject(output.data) ? output.data : null;
    default:
      return null;
  }
}
