/**
 * The events plugin: the caller's notices from `GET /events`, open while the server
 * offers them.
 */
import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';

import { IMuscodeEvents, IMuscodeServer } from '../tokens';
import { EventFeed } from './feed';

export const eventsPlugin: JupyterFrontEndPlugin<IMuscodeEvents> = {
  id: 'muscode-jupyterlab:events',
  description: "The caller's MUSCode notices (grades, regrade progress) over a websocket.",
  autoStart: true,
  provides: IMuscodeEvents,
  requires: [IMuscodeServer],
  activate: (_: JupyterFrontEnd, server: IMuscodeServer): IMuscodeEvents => {
    const feed = new EventFeed({ client: () => server.client });
    // Grades and regrade progress arrive as notices on GET /events, when it exists.
    const follow = () => {
      if (server.capabilities.events) {
        feed.start();
      } else {
        feed.stop();
      }
    };
    follow();
    server.changed.connect(follow);
    return feed;
  }
};
