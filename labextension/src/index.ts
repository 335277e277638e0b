/**
 * MUSCode for JupyterLab: the side panel, the MUSCode drive, Run with live output,
 * classes and assignments, and live help.
 *
 * Several small plugins, one folder each, that find each other through the tokens of
 * `tokens.ts`:
 *
 * | plugin | provides | folder |
 * |---|---|---|
 * | `muscode-jupyterlab:plugin` (the client; it keeps the settings' id) | `IMuscodeServer` | `client/` |
 * | `muscode-jupyterlab:events` | `IMuscodeEvents` | `events/` |
 * | `muscode-jupyterlab:drive` | `IMuscodeDrives` | `drive/` |
 * | `muscode-jupyterlab:run` | | `run/` |
 * | `muscode-jupyterlab:notebook-run` | | `nbrun/` |
 * | `muscode-jupyterlab:panel` | `IMuscodePanel` | `panel/` |
 * | `muscode-jupyterlab:assignments` | | `assignments/` |
 * | `muscode-jupyterlab:collab` | | `collab/` |
 */
import type { JupyterFrontEndPlugin } from '@jupyterlab/application';

import { assignmentsPlugin } from './assignments/plugin';
import { clientPlugin } from './client/plugin';
import { collabPlugin } from './collab/plugin';
import { drivePlugin } from './drive/plugin';
import { eventsPlugin } from './events/plugin';
import { notebookRunPlugin } from './nbrun/plugin';
import { panelPlugin } from './panel/plugin';
import { runPlugin } from './run/plugin';

export * from './tokens';
export * from './types';
export { describeError, makeSettings, MuscodeAPIError, requestAPI, requestReply } from './request';
export { capabilitiesFrom, openapiPaths } from './client/capabilities';
export type { ICapabilities } from './client/capabilities';
export { MuscodeClient } from './client/client';
export { LanguageCatalog } from './client/languages';
export { CLIENT_PATHS, CONTRACT_ONLY_PATHS, fillPath } from './client/paths';
export { DRIVE_NAME, MuscodeDrive } from './drive/drive';
export { REVIEW_DRIVE_NAME, ReviewDrive } from './drive/review';
export { EventFeed, parseNotice } from './events/feed';
export { follow } from './events/follow';
export { OutputModel } from './run/output';
export { RunSession } from './run/session';
export { colorOf, LiveFile, refusalMessage, userOf } from './collab/livefile';
export { LiveEditor } from './collab/editor';

const plugins: JupyterFrontEndPlugin<unknown>[] = [
  clientPlugin,
  eventsPlugin,
  drivePlugin,
  runPlugin,
  notebookRunPlugin,
  panelPlugin,
  assignmentsPlugin,
  collabPlugin
];

export default plugins;
