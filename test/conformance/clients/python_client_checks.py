"""Drives the emulator with Debian's python3-kubernetes and prints what it saw as JSON.

Usage: python3 python_client_checks.py KUBECONFIG NAMESPACE POD PORT
The pod must run an HTTP server on PORT (inside its own network namespace).
"""
import json
import sys

from kubernetes import client, config
from kubernetes.stream import portforward, stream


def exec_result(api, namespace, pod, command):
    resp = stream(
        api.connect_get_namespaced_pod_exec, pod, namespace, command=command,
        stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False,
    )
    stdout, stderr = [], []
    while resp.is_open():
        resp.update(timeout=5)
        if resp.peek_stdout():
            stdout.append(resp.read_stdout())
        if resp.peek_stderr():
            stderr.append(resp.read_stderr())
    resp.close()
    return {"stdout": "".join(stdout), "stderr": "".join(stderr), "returncode": resp.returncode}


def http_through_port_forward(api, namespace, pod, port):
    forward = portforward(api.connect_get_namespaced_pod_portforward, pod, namespace, ports=str(port))
    sock = forward.socket(port)
    sock.setblocking(True)
    sock.sendall(b"GET /hello.txt HTTP/1.0\r\nHost: pod\r\n\r\n")
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            break
        chunks.append(data)
    sock.close()
    error = forward.error(port)
    forward.close()
    return {"response": b"".join(chunks).decode("utf-8", "replace"), "error": error}


def main():
    kubeconfig, namespace, pod, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    config.load_kube_config(config_file=kubeconfig)
    api = client.CoreV1Api()
    result = {
        "ok": exec_result(api, namespace, pod, ["sh", "-c", "echo out; echo err >&2"]),
        "failing": exec_result(api, namespace, pod, ["sh", "-c", "echo partial; exit 7"]),
        "python": exec_result(api, namespace, pod, ["python", "-c", "import socket; print(socket.gethostname())"]),
        "forward": http_through_port_forward(api, namespace, pod, port),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
