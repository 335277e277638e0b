/**
 * What the assignment views need from the plugin, and the views one can open.
 */
import type { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { TranslationBundle } from '@jupyterlab/translation';
import type { Signal } from '@lumino/signaling';

import type { ICapabilities } from '../client/capabilities';
import type { MuscodeClient } from '../client/client';
import type { LanguageCatalog } from '../client/languages';
import type { INoticeSource } from '../events/follow';
import type { Class, Me, Project, Submission } from '../types';

/** What every view needs from the plugin. */
export interface IAssignmentContext {
  client: () => MuscodeClient;
  trans: TranslationBundle;
  me: () => Me | null;
  catalog: () => LanguageCatalog;
  capabilities: () => ICapabilities;
  feed: INoticeSource;
  rendermime: IRenderMimeRegistry | null;
  /** Show one of the caller's projects in the MUSCode drive. */
  openProject: (project: Project) => Promise<void>;
  /** Open a student's project (or one file of it) read-only. */
  openReview: (projectId: string, path?: string) => Promise<void>;
  /**
   * Save the open, unsaved editors of one of the caller's projects (before Check and
   * Submit, which work on the saved files); rejects saying what could not be saved.
   */
  saveProject?: (projectId: string) => Promise<string[]>;
  /** Open exactly the graded files of a submission, read-only. */
  openSnapshot: (submission: Submission) => Promise<void>;
  /** Open a main-area view. */
  open: (view: ViewRequest) => void;
  /** Emitted when assignments or rosters changed here (lists reload). */
  changed: Signal<object, string>;
  /** Poll interval while the event feed is down (ms). */
  pollInterval?: number;
}

/** The main-area views, and what each shows. */
export type ViewRequest =
  | { kind: 'assignment'; assignmentId: string; title: string }
  | { kind: 'editor'; klass: Class; assignmentId: string | null; title: string }
  | { kind: 'submissions'; klass: Class; assignmentId: string; title: string }
  | { kind: 'roster'; klass: Class }
  | { kind: 'gradebook'; klass: Class };
