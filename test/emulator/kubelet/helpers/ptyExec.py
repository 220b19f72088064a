"""Runs a command on a new pseudo-terminal, as a container runtime does for `exec -t`.

stdin is copied to the terminal, the terminal to stdout; fd 4 carries resize lines
"COLUMNS ROWS". fd 3 is passed through to the command. Exits with the command's status.
"""
import fcntl
import os
import pty
import selectors
import struct
import subprocess
import sys
import termios


def set_size(fd: int, columns: int, rows: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))


def main() -> int:
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        sys.argv[1:], stdin=slave, stdout=slave, stderr=slave, pass_fds=(3,), start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(slave)
    os.close(3)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ, "in")
    selector.register(master, selectors.EVENT_READ, "pty")
    selector.register(4, selectors.EVENT_READ, "resize")
    pending = b""
    while True:
        for key, _ in selector.select():
            if key.data == "in":
                data = os.read(0, 65536)
                if not data:
                    selector.unregister(0)
                    os.write(master, b"\x04")
                else:
                    os.write(master, data)
            elif key.data == "resize":
                data = os.read(4, 4096)
                if not data:
                    selector.unregister(4)
                    continue
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    columns, rows = (int(x) for x in line.split())
                    set_size(master, columns, rows)
            else:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    return proc.wait()
                os.write(1, data)


if __name__ == "__main__":
    sys.exit(main())
