"""Peer for P2: jupyter_client's Session messages over the Jupyter Server kernel websocket.

Starts a kernel through the REST API, then sends `1+1` execute requests built by
jupyter_client.session.Session over a tornado websocket, waiting for the execute_result and the
kernel's idle status of each. Prints the per-cell round trips (ms) as JSON.
"""
import asyncio
import json
import sys
import time
import urllib.request

from jupyter_client.jsonutil import json_default
from jupyter_client.session import Session
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect


def rest(base, token, method, path):
    request = urllib.request.Request(
        f"{base}{path}", method=method, data=b"{}" if method == "POST" else None,
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as response:
        body = response.read()
        return json.loads(body) if body else None


async def run(base, token, reps, warmup):
    kernel = rest(base, token, "POST", "/api/kernels")
    session = Session(username="bench")
    url = base.replace("http", "ws", 1) + f"/api/kernels/{kernel['id']}/channels?session_id={session.session}"
    socket = await websocket_connect(
        HTTPRequest(url, headers={"Authorization": f"token {token}"}, connect_timeout=30)
    )
    samples = []
    try:
        for index in range(warmup + reps):
            message = session.msg("execute_request", {
                "code": "1+1", "silent": False, "store_history": True,
                "user_expressions": {}, "allow_stdin": False, "stop_on_error": True,
            })
            message["channel"] = "shell"
            started = time.perf_counter()
            await socket.write_message(json.dumps(message, default=json_default))
            result = idle = False
            while not (result and idle):
                reply = json.loads(await socket.read_message())
                if reply.get("parent_header", {}).get("msg_id") != message["header"]["msg_id"]:
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
        socket.close()
        rest(base, token, "DELETE", f"/api/kernels/{kernel['id']}")
    print(json.dumps(samples))


if __name__ == "__main__":
    base, token, reps, warmup = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    asyncio.run(run(base, token, reps, warmup))
