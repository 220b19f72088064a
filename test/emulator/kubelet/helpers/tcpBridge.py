"""Relays stdin/stdout to a TCP connection on HOST:PORT in the current network namespace.

Started by the emulator inside a pod's network namespace for each port-forward stream (HOST
127.0.0.1, as the runtime's port-forward dials) and each TCP or HTTP probe (HOST the pod's IP, as
the kubelet dials). Exits 1 with the connection error on stderr if nothing listens there.
"""
import os
import selectors
import socket
import sys


def main() -> int:
    port, host, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
    try:
        conn = socket.create_connection((host, port))
    except OSError as error:
        sys.stderr.write(f"dial tcp {host}:{port}: connect: {error.strerror.lower() if error.strerror else error}")
        return 1
    # As the runtime's own port-forward (Go's TCP connections): no Nagle delay on small writes.
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if mode == ["--check"]:
        conn.close()
        return 0
    stdin = sys.stdin.buffer.fileno()
    stdout = sys.stdout.buffer.fileno()
    selector = selectors.DefaultSelector()
    selector.register(stdin, selectors.EVENT_READ, "in")
    selector.register(conn, selectors.EVENT_READ, "sock")
    open_sides = 2
    while open_sides:
        for key, _ in selector.select():
            if key.data == "in":
                data = os.read(stdin, 65536)
                if not data:
                    selector.unregister(stdin)
                    conn.shutdown(socket.SHUT_WR)
                    open_sides -= 1
                else:
                    conn.sendall(data)
            else:
                try:
                    data = conn.recv(65536)
                except ConnectionResetError:
                    data = b""
                if not data:
                    selector.unregister(conn)
                    os.close(stdout)
                    return 0
                view = memoryview(data)
                while view:
                    written = os.write(stdout, view)
                    view = view[written:]
    return 0


if __name__ == "__main__":
    sys.exit(main())
