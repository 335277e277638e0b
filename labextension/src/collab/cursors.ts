/**
 * The other participants' cursors and selections in a live editor, from the room's
 * awareness, and this editor's own published to them.
 */
import { Annotation, Extension } from '@codemirror/state';
import {
  Decoration,
  DecorationSet,
  EditorView,
  ViewPlugin,
  ViewUpdate,
  WidgetType
} from '@codemirror/view';
import type { YFile } from '@jupyter/ydoc';
import { TranslationBundle } from '@jupyterlab/translation';
import * as Y from 'yjs';

import { ILiveUser, userOf } from './livefile';

/** A participant's selection, as Yjs relative positions (the awareness `cursor` field). */
interface ILiveCursor {
  anchor: unknown;
  head: unknown;
}

const remoteChange = Annotation.define<boolean>();

class CaretWidget extends WidgetType {
  constructor(
    readonly user: ILiveUser,
    readonly label: string
  ) {
    super();
  }

  eq(other: CaretWidget): boolean {
    return other.user.name === this.user.name && other.user.color === this.user.color;
  }

  toDOM(): HTMLElement {
    const caret = document.createElement('span');
    caret.className = 'muscode-RemoteCaret';
    caret.style.setProperty('--muscode-collab-color', this.user.color);
    caret.setAttribute('aria-label', this.label);
    caret.dataset.user = this.user.name;
    // the name is drawn by CSS (::after): it is no part of the text, nor of a copy
    return caret;
  }

  ignoreEvent(): boolean {
    return true;
  }
}

function indexOf(json: unknown, file: YFile): number | null {
  if (typeof json !== 'object' || json === null) {
    return null;
  }
  try {
    const rel = Y.createRelativePositionFromJSON(json);
    const abs = Y.createAbsolutePositionFromRelativePosition(rel, file.ydoc);
    return abs && abs.type === file.ysource ? abs.index : null;
  } catch {
    return null;
  }
}

/**
 * A CodeMirror extension that shows the other participants' cursors and selections
 * (from the room's awareness) and publishes this editor's own.
 */
export function remoteCursors(file: YFile, trans: TranslationBundle): Extension {
  const awareness = file.awareness;
  const build = (view: EditorView): DecorationSet => {
    const length = view.state.doc.length;
    const own = file.ydoc.clientID;
    const ranges: ReturnType<Decoration['range']>[] = [];
    awareness.getStates().forEach((state, client) => {
      const user = client === own ? null : userOf(state);
      const cursor = state.cursor as ILiveCursor | null | undefined;
      if (!user || !cursor) {
        return;
      }
      const head = indexOf(cursor.head, file);
      const anchor = indexOf(cursor.anchor, file);
      if (head === null || head > length) {
        return;
      }
      if (anchor !== null && anchor !== head && anchor <= length) {
        ranges.push(
          Decoration.mark({
            class: 'muscode-RemoteSelection',
            attributes: { style: `--muscode-collab-color: ${user.color}` }
          }).range(Math.min(anchor, head), Math.max(anchor, head))
        );
      }
      ranges.push(
        Decoration.widget({
          widget: new CaretWidget(user, trans.__('Cursor of %1', user.name)),
          side: 1
        }).range(head)
      );
    });
    return Decoration.set(ranges, true);
  };

  const plugin = ViewPlugin.fromClass(
    class {
      decorations: DecorationSet;

      constructor(readonly view: EditorView) {
        this.decorations = build(view);
        awareness.on('change', this.onChange);
      }

      update(update: ViewUpdate): void {
        if (
          update.docChanged ||
          update.selectionSet ||
          update.focusChanged ||
          update.transactions.some(t => t.annotation(remoteChange))
        ) {
          this.decorations = build(update.view);
        }
        if (update.selectionSet || update.docChanged || update.focusChanged) {
          this.publish(update.view);
        }
      }

      destroy(): void {
        awareness.off('change', this.onChange);
      }

      publish(view: EditorView): void {
        const { anchor, head } = view.state.selection.main;
        const local = awareness.getLocalState();
        if (!local) {
          return;
        }
        const cursor: ILiveCursor | null = view.hasFocus
          ? {
              anchor: Y.relativePositionToJSON(
                Y.createRelativePositionFromTypeIndex(file.ysource, anchor)
              ),
              head: Y.relativePositionToJSON(
                Y.createRelativePositionFromTypeIndex(file.ysource, head)
              )
            }
          : ((local.cursor as ILiveCursor | null | undefined) ?? null);
        awareness.setLocalStateField('cursor', cursor);
      }

      onChange = (_: unknown, origin: unknown): void => {
        if (origin === 'local') {
          return;
        }
        // not from inside an editor update: awareness messages come from the socket
        setTimeout(() => {
          if (this.view.dom.isConnected) {
            this.view.dispatch({ annotations: remoteChange.of(true) });
          }
        }, 0);
      };
    },
    { decorations: v => v.decorations }
  );
  return plugin;
}
