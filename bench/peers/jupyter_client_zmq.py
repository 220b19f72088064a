"""Direct-ZMQ baseline for P2: jupyter_client talking to a kernel's own sockets, no server between.

Starts a python3 kernel with jupyter_client's KernelManager, then sends `1+1` execute requests on
the shell channel, waiting for the execute_result and the kernel's idle status on iopub of each.
Prints the per-cell round trips (ms) as JSON.
"""
import json
import sys
import time

from jupyter_client.manager import start_new_kernel


def run(reps, warmup):
    manager, client = start_new_kernel(kernel_name="python3")
    samples = []
    try:
        for index in range(warmup + reps):
            started = time.perf_counter()
            msg_id = client.execute("1+1")
            result = idle = False
            while not (result and idle):
                reply = client.get_iopub_msg(timeout=30)
                if reply["parent_header"].get("msg_id") != msg_id:
                    continue
                kind = reply["msg_type"]
                if kind == "execute_result":
                    assert reply["content"]["data"]["text/plain"] == "2"
                    result = True
                elif kind == "status" and reply["content"]["execution_state"] == "idle":
                    idle = True
            if index >= warmup:
                samples.append((time.perf_counter() - started) * 1000)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    print(json.dumps(samples))


if __name__ == "__main__":
    run(int(sys.argv[1]), int(sys.argv[2]))
