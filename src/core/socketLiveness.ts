import WebSocket from 'ws';

/** How often an open WebSocket is pinged; a socket with no pong by the next ping is dead. */
export const defaultLivenessIntervalMs = 10_000;

/**
 * Pings `socket` every `intervalMs` and terminates it when the previous ping got no pong: after a
 * network stall (a laptop's sleep, a dropped NAT entry) a connection can stay open on this side
 * while nothing reaches the other, and only a close lets its owner reconnect. Stops by itself
 * when the socket closes.
 */
export function keepAlive(socket: WebSocket, intervalMs = defaultLivenessIntervalMs): void {
  let answered = true;
  const onPong = () => (answered = true);
  const timer = setInterval(() => {
    if (!answered) {
      socket.terminate();
      return;
    }
    if (socket.readyState !== WebSocket.OPEN) {
      return;
    }
    answered = false;
    socket.ping();
  }, intervalMs);
  timer.unref();
  socket.on('pong', onPong);
  socket.once('close', () => {
    clearInterval(timer);
    socket.off('pong', onPong);
  });
}
