/**
 * What the MUSCode websocket clients (a run's stream, `/events`) share.
 */

/** A message parsed as a JSON object; null for anything else. */
export function parseObject(raw: string): Record<string, unknown> | null {
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return null;
  }
  return typeof data === 'object' && data !== null ? (data as Record<string, unknown>) : null;
}

/** Close `socket` without hearing from it again (no handler runs after this). */
export function closeQuietly(socket: WebSocket | null): void {
  if (socket) {
    socket.onopen = null;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = null;
    socket.close();
  }
}
