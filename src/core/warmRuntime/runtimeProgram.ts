/**
 * The warm runtime: a small Python program the executor starts once in the pod (through one
 * exec that stays open) and that runs every block in a process of its own, forked from it.
 *
 * Frames both ways are a 9-byte header (kind: 1 byte, block id: 4, payload length: 4, big-endian)
 * and the payload. The client sends `start` (a JSON line, then the code), which the runtime only
 * holds and answers `held` (a file already in the pod, run in place, has no code: its line names
 * it); then `run`, which starts it; and `kill`. So a stream that ends before
 * the client sent `run` ran nothing of the block (it may be sent again on a new stream), and one
 * that ends later leaves the block lost, never run twice. The runtime sends `ready` once, then per
 * block `held`, `stdout` and `stderr` chunks and one `exit` (JSON). A block's stdin is /dev/null,
 * as on the exec path, unless its start asks for `stdin` frames (a program fed a stream, such as
 * the workspace sync's receiver); an empty one ends it, and each `taken` frame (a 4-byte count)
 * says how many of its bytes went into the block's pipe: the client keeps little in flight.
 *
 * A Python block's process is a fork of the runtime that runs the code as `python FILE` would, in
 * a fresh `__main__` (nothing a block defines is seen by the next); other languages fork and exec
 * their interpreter (the fork is mostly made ahead, while the runtime is idle: spareProcess.ts).
 * Each leads its own process group, every process it starts carries its tag in
 * the environment (as on the exec path, podScripts.ts), and it writes to pipes of its own that the
 * runtime relays: the protocol's descriptors are closed in it. When it exits, its group and every
 * tagged process are killed; a timeout or a kill sends TERM, then KILL. When the stream ends
 * (stdin closed, stdout gone) the runtime kills every block and exits: nothing runs on unseen.
 */

import { blockTagVariable } from '../podScripts.ts';
import { blockProcessPython } from './blockProcess.ts';
import { spareProcessPython } from './spareProcess.ts';

export const frameHeaderBytes = 9;

export const clientFrame = { start: 1, kill: 2, run: 3, stdin: 4 } as const;
export const runtimeFrame = { ready: 1, stdout: 2, stderr: 3, exit: 4, held: 5, taken: 6 } as const;

/** How a block ended, as the runtime's `exit` frame says. */
export type RuntimeExit =
  | { status: 'ran'; code: number; timedOut: boolean }
  | { status: 'outside' }
  | { status: 'failed' | 'missing'; message: string };

/** What a `start` frame's JSON line holds (the code follows it). */
export interface RuntimeStart {
  tag: string;
  workspace: string;
  name: string;
  dir: string;
  roots: string[];
  limit: number;
  remove: boolean;
  /** Run in a fork of the runtime itself (Python), or with the first of `interpreters` found. */
  inProcess: boolean;
  interpreters: string[];
  /**
   * A file already in the pod to run in place (`name` and the code are then unused), with its
   * arguments and `NAME=VALUE` assignments; with no `interpreters` it runs itself (its shebang).
   */
  file?: { path: string; args: string[]; assignments: string[] };
  /**
   * A program given inline: with `python`, the code runs in the fork as `python -c CODE ARGS...`
   * would (`argv` its arguments after `-c`), else `argv` is exec'd (its first word looked up on
   * the PATH). `title` is its command line in `ps`, as far as the runtime's own has room.
   */
  program?: { python: boolean; argv: string[]; title: string };
  /** The block reads `stdin` frames (else /dev/null). */
  stdin?: boolean;
}

/** The program, sent as the stream's first stdin bytes (too long for a command line's URL). */
export const runtimeProgram = String.raw`
import fcntl, json, os, select, signal, struct, sys, time
HEADER = struct.Struct('>BII')
START, KILL, RUN, STDIN = 1, 2, 3, 4
READY, STDOUT, STDERR, EXIT, HELD, TAKEN = 1, 2, 3, 4, 5, 6
COUNT = struct.Struct('>I')
TAG = 'POD_RUNNER_BLOCK'
PLACEHOLDER = (TAG + '=' + '0' * 32).encode()
BASE_PATH = sys.path[1:]
OWN_GROUP = os.getpgrp()
blocks = {}
held = {}
by_pid = {}
readers = {}
writers = {}
wake_r, wake_w = os.pipe()
os.set_blocking(wake_r, False)
os.set_blocking(wake_w, False)
signal.set_wakeup_fd(wake_w)
signal.signal(signal.SIGCHLD, lambda *_: None)
${blockProcessPython}
${spareProcessPython}
poller = select.poll()
poller.register(0, select.POLLIN)
poller.register(wake_r, select.POLLIN)

class Gone(Exception):
    pass

def send(kind, bid, payload=b''):
    data = memoryview(HEADER.pack(kind, bid, len(payload)) + payload)
    try:
        while data:
            data = data[os.write(1, data):]
    except OSError:
        raise Gone()

def tagged(tag):
    record = (TAG + '=' + tag).encode()
    found = []
    for name in os.listdir('/proc'):
        if name.isdigit():
            try:
                with open('/proc/' + name + '/environ', 'rb') as f:
                    if record in f.read().split(b'\0'):
                        found.append(int(name))
            except OSError:
                pass
    return found

class Block:
    def __init__(self, bid, h):
        self.bid, self.h = bid, h
        self.pid = None
        self.status = None
        self.timed_out = False
        self.kill_at = None
        self.drain_until = None
        self.fds = {}
        self.groups = set()
        self.deadline = time.monotonic() + h['limit']
        self.file = None
        self.stdin_fd = None
        self.inbox = []
        self.stdin_end = False

    def signal(self, sig):
        pids = tagged(self.h['tag'])
        for pid in pids:
            try:
                self.groups.add(os.getpgid(pid))
            except OSError:
                pass
        self.groups.discard(OWN_GROUP)
        for group in self.groups:
            try:
                os.killpg(group, sig)
            except OSError:
                pass
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        return bool(pids)

    def sweep(self):
        until = time.monotonic() + 2
        while self.signal(signal.SIGKILL) and time.monotonic() < until:
            time.sleep(0.002)

def start(bid, payload):
    line, _, code = payload.partition(b'\n')
    block = Block(bid, json.loads(line))
    h = block.h
    try:
        given = h.get('file')
        program = h.get('program')
        if program:
            root, real = '/', program['argv'][0] if program['argv'] else ''
        else:
            root, real = locate(given) if given else place(block, code)
        command = None
        if program and not program['python']:
            found = find(real)
            if found is None:
                raise Refused('missing', real + ': not found')
            command = [found] + program['argv'][1:]
        elif given and not h['interpreters']:
            if not os.access(real, os.X_OK):
                raise Refused('missing', real + ' has no known extension and is not executable')
            command = [real]
        elif not h['inProcess']:
            interpreter = next(filter(None, map(find, h['interpreters'])), None)
            if interpreter is None:
                raise Refused('missing', 'no interpreter for this language in the pod (looked for: ' + ' '.join(h['interpreters']) + ')')
            command = [interpreter, real]
        cwd = h['dir'] or root
        if not os.path.isdir(cwd):
            raise Refused('failed', 'the working directory ' + cwd + ' does not exist in the pod')
    except Refused as refused:
        if block.file:
            remove(block.file)
        send(EXIT, bid, json.dumps(refused.exit).encode())
        return
    pid, out_r, err_r, in_w = launch(h, real, cwd, code, command)
    if in_w is not None:
        os.set_blocking(in_w, False)
        block.stdin_fd = in_w
    block.pid = pid
    block.groups.add(pid)
    block.fds = {out_r: STDOUT, err_r: STDERR}
    for fd in block.fds:
        readers[fd] = block
        poller.register(fd, select.POLLIN)
    blocks[bid] = block
    by_pid[pid] = block

def reap():
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        spare_ended(pid)
        block = by_pid.pop(pid, None)
        if block:
            block.status = status
            block.sweep()
            # As an exec's output ends only when every writer is gone, so does a block's: a
            # process that left the group and the tag but holds its pipe keeps it open, up to the
            # block's timeout.
            block.drain_until = block.deadline

def close_reader(fd):
    block = readers.pop(fd)
    del block.fds[fd]
    poller.unregister(fd)
    os.close(fd)

def finish(block):
    for fd in list(block.fds):
        close_reader(fd)
    close_stdin(block)
    block.inbox = []
    if block.file:
        remove(block.file)
    del blocks[block.bid]
    status = block.status
    code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    if block.timed_out:
        code = 124
    send(EXIT, block.bid, json.dumps({'status': 'ran', 'code': code, 'timedOut': block.timed_out}).encode())

def tick():
    now = time.monotonic()
    for block in list(blocks.values()):
        if block.status is not None:
            if block.fds and now >= block.drain_until:
                block.timed_out = True
            if not block.fds or block.timed_out:
                finish(block)
            continue
        if not block.timed_out and block.kill_at is None and now >= block.deadline:
            block.timed_out = True
            block.signal(signal.SIGTERM)
            block.kill_at = now + 2
        if block.kill_at is not None and now >= block.kill_at:
            block.signal(signal.SIGKILL)
            block.kill_at = now + 0.1

def wait_ms():
    now = time.monotonic()
    times = []
    for block in blocks.values():
        times.append(block.drain_until if block.status is not None else block.kill_at or block.deadline)
    return None if not times else max(0, int((min(times) - now) * 1000) + 1)

def shut_down():
    if spare is not None:
        spare.discard()
    for block in blocks.values():
        block.signal(signal.SIGKILL)
        block.sweep()
        if block.file:
            remove(block.file)
    sys.exit(0)

def serve():
    # A bytearray grows in place: a frame of many megabytes (a block's code) arrives in a
    # million-byte reads without being copied again at each.
    pending = bytearray()
    send(READY, 0, json.dumps({'python': sys.version.split()[0]}).encode())
    while True:
        idle = spare is None and not spare_failed and not blocks and not held
        events = poller.poll(0 if idle else wait_ms())
        if idle and not events:
            make_spare()
        for fd, _ in events:
            if fd == wake_r:
                try:
                    while os.read(wake_r, 512):
                        pass
                except OSError:
                    pass
                reap()
            elif fd == 0:
                data = os.read(0, 1 << 20)
                if not data:
                    shut_down()
                pending += data
                while len(pending) >= HEADER.size:
                    kind, bid, size = HEADER.unpack_from(pending)
                    if len(pending) < HEADER.size + size:
                        break
                    payload = bytes(pending[HEADER.size:HEADER.size + size])
                    del pending[:HEADER.size + size]
                    if kind == START:
                        held[bid] = payload
                        send(HELD, bid)
                    elif kind == RUN and bid in held:
                        start(bid, held.pop(bid))
                    elif kind == STDIN and bid in blocks:
                        feed(blocks[bid], payload)
                    elif kind == KILL and held.pop(bid, None) is not None:
                        pass
                    elif kind == KILL and bid in blocks and blocks[bid].status is None:
                        blocks[bid].signal(signal.SIGTERM)
                        blocks[bid].kill_at = time.monotonic() + 1
            elif fd in writers:
                pump(writers[fd])
            elif fd in readers:
                block = readers[fd]
                data = os.read(fd, 1 << 16)
                if data:
                    send(block.fds[fd], block.bid, data)
                else:
                    close_reader(fd)
        tick()

retitle(sys.argv[2])
try:
    serve()
except Gone:
    shut_down()
`;

/** The runtime's own marker on its command line (`ps` shows what it is). */
export const runtimeMarker = 'pod-runner-warm-runtime';

/** Reads the program (exactly its size, unbuffered: the frames follow it on stdin) and runs it. */
const bootstrap = `import os, sys
size = int(sys.argv[1])
source = b''
while len(source) < size:
    part = os.read(0, size - len(source))
    if not part:
        sys.exit(1)
    source += part
exec(compile(source, sys.argv[2], 'exec'))`;

/**
 * The exec command that starts the runtime with the pod's `python`, else `python3` (the order
 * blocks use); without either it exits 127 before saying it is ready.
 */
export function runtimeCommand(): string[] {
  return [
    'sh',
    '-c',
    `export ${blockTagVariable}=${'0'.repeat(32)}; for p in python python3; do command -v "$p" >/dev/null 2>&1 && exec "$p" -c "$0" "$1" "$2"; done; echo "no python or python3 on the PATH" >&2; exit 127`,
    bootstrap,
    String(Buffer.byteLength(runtimeProgram)),
    runtimeMarker,
  ];
}
