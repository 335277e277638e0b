import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // JupyterLab and Lumino ship ES modules without "type": "module": let Vite load them.
    server: { deps: { inline: [/@jupyterlab\//, /@lumino\//, /@jupyter\//] } }
  }
});
