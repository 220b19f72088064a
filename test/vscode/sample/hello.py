# Select lines and press Ctrl+Alt+K Enter (or right-click → Run Selection in Pod).
import platform
import socket

print(f"Hello from pod {socket.gethostname()} running Python {platform.python_version()}")
