"""The seed as a bench peer: autogen-kubernetes' own PodCommandLineCodeExecutor, driven over JSON lines.

Run with the seed's pinned environment and KUBECONFIG naming the cluster: `python seedPeer.py`. The
kubeconfig comes from the environment, as in the seed's own tests, because its `kube_config_file`
argument fails in 0.6.2 (it hands kubernetes.config a Path, which that loader splits as a string).
Each line on stdin is a request, each line on stdout its answer ({"ok": true, ...} or
{"ok": false, "error": ...}):

- {"op": "open", "timeout": s}: a default executor (python:3-slim pod in `default`) started;
  answers the seed's version and its pod's name.
- {"op": "time", "calls": [block, ...], "warmup": n, "reps": n}: each rep runs every call at once
  (asyncio.gather of one execute_code_blocks per call on the one executor) and checks each output;
  a block is {"language", "code", "output"} or, for large output, {..., "outputLength"}. Answers
  the reps' wall times in ms.
- {"op": "coldStart", "reps": n, "timeout": s}: per rep, a new executor, started, then its first
  `print(1)` block: answers the times from construction to that result, in ms.
- {"op": "close"}: the executor stopped; the process ends.
"""
import asyncio
import importlib.metadata
import json
import sys
import time

from autogen_core import CancellationToken
from autogen_core.code_executor import CodeBlock
from autogen_kubernetes.code_executors import PodCommandLineCodeExecutor


async def run_block(executor, call):
    result = await executor.execute_code_blocks(
        [CodeBlock(language=call["language"], code=call["code"])], CancellationToken()
    )
    if result.exit_code != 0:
        raise RuntimeError(f"exit code {result.exit_code}: {result.output[:500]!r}")
    if "outputLength" in call:
        if len(result.output) != call["outputLength"]:
            raise RuntimeError(f"{len(result.output)} characters of output, not {call['outputLength']}")
    elif result.output != call["output"]:
        raise RuntimeError(f"output {result.output[:500]!r}, not {call['output']!r}")


async def timed(executor, calls, warmup, reps):
    samples = []
    for index in range(warmup + reps):
        started = time.perf_counter()
        await asyncio.gather(*(run_block(executor, call) for call in calls))
        if index >= warmup:
            samples.append((time.perf_counter() - started) * 1000)
    return samples


async def cold_starts(reps, timeout):
    samples = []
    for _ in range(reps):
        started = time.perf_counter()
        executor = PodCommandLineCodeExecutor(timeout=timeout)
        await executor.start()
        try:
            await run_block(executor, {"language": "python", "code": "print(1)", "output": "1\n"})
            samples.append((time.perf_counter() - started) * 1000)
        finally:
            await executor.stop()
    return samples


async def serve():
    loop = asyncio.get_running_loop()
    executor = None
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        request = json.loads(line)
        op = request["op"]
        try:
            if op == "open":
                executor = PodCommandLineCodeExecutor(timeout=request["timeout"])
                await executor.start()
                answer = {"version": importlib.metadata.version("autogen-kubernetes"), "pod": executor._pod_name}
            elif op == "time":
                answer = {"samples": await timed(executor, request["calls"], request["warmup"], request["reps"])}
            elif op == "coldStart":
                answer = {"samples": await cold_starts(request["reps"], request["timeout"])}
            elif op == "close":
                if executor is not None:
                    await executor.stop()
                print(json.dumps({"ok": True}), flush=True)
                break
            else:
                raise ValueError(f"unknown op {op}")
            print(json.dumps({"ok": True, **answer}), flush=True)
        except Exception as error:  # the bench reports it and stops
            print(json.dumps({"ok": False, "error": f"{type(error).__name__}: {error}"}), flush=True)


if __name__ == "__main__":
    asyncio.run(serve())
