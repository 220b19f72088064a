"""Profile row for P1: Debian's python3-kubernetes doing the seed's two execs per code block.

Per block: one exec of `sh -c` with the heredoc that writes the file, then one exec of
`timeout <t> python <file>`, each over a new v4 exec websocket, with one API client reused.
Prints the per-block wall times (ms) as JSON.
"""
import json
import sys
import time

from kubernetes import client, config
from kubernetes.stream import stream


def exec_once(api, namespace, pod, container, command):
    response = stream(
        api.connect_get_namespaced_pod_exec, pod, namespace, command=command, container=container,
        stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False,
    )
    output = []
    while response.is_open():
        response.update(timeout=30)
        if response.peek_stdout():
            output.append(response.read_stdout())
    response.close()
    return response.returncode, "".join(output)


def main():
    kubeconfig, namespace, pod, container, reps, warmup = sys.argv[1:7]
    config.load_kube_config(config_file=kubeconfig)
    api = client.CoreV1Api()
    write = (
        'if [ ! -d "/workspace" ]; then\n  mkdir /workspace\nfi\n'
        "cat <<EOF >/workspace/tmp_code_bench.py\nprint(1)\nEOF\n"
        "chmod +x /workspace/tmp_code_bench.py"
    )
    samples = []
    for index in range(int(warmup) + int(reps)):
        started = time.perf_counter()
        code, _ = exec_once(api, namespace, pod, container, ["sh", "-c", write])
        assert code == 0, f"write step exited {code}"
        code, out = exec_once(
            api, namespace, pod, container, ["timeout", "60", "python", "/workspace/tmp_code_bench.py"]
        )
        assert code == 0 and out == "1\n", f"run step exited {code}: {out!r}"
        if index >= int(warmup):
            samples.append((time.perf_counter() - started) * 1000)
    print(json.dumps(samples))


if __name__ == "__main__":
    main()
