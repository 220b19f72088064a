/**
 * The warm runtime's spare block process (runtimeProgram.ts holds the rest). A fork is cheap for
 * the parent, but its child pays afterwards: every page it first writes (a refcount in the import
 * machinery, a code object, an I/O buffer) is copied then, about 60 such copies for `print(1)`
 * and 200 for an import of a sibling module, a few microseconds each. So while the runtime is idle
 * it forks one process ahead, which writes those pages by doing the same work once on throwaway
 * input, and waits; the next block is handed to it (its start line and code through a pipe of its
 * own) instead of forking on the block's time. It is made only when no block runs or is held, so
 * it never competes with one; if it ends unused, the runtime forks each block itself from then on.
 */
export const spareProcessPython = String.raw`
spare = None
spare_failed = False
F_SETPIPE_SZ, F_GETPIPE_SZ = 1031, 1032

class Spare:
    def __init__(self):
        opened = []
        try:
            for _ in range(4):
                opened.extend(os.pipe())
            self.pid = os.fork()
        except OSError:
            for fd in opened:
                os.close(fd)
            raise
        self.out_r, out_w, self.err_r, err_w, in_r, self.in_w, ctl_r, self.ctl_w = opened
        if self.pid == 0:
            try:
                self.wait(ctl_r, out_w, err_w, in_r)
            finally:
                os._exit(127)
        for fd in (out_w, err_w, in_r, ctl_r):
            os.close(fd)
        try:
            os.setpgid(self.pid, self.pid)
        except OSError:
            pass
        # A block is handed over only if it fits in the pipe at once: the runtime never waits on
        # the spare. A megabyte holds most code; larger code goes by fork, which shares it.
        try:
            fcntl.fcntl(self.ctl_w, F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        self.capacity = fcntl.fcntl(self.ctl_w, F_GETPIPE_SZ)
        os.set_blocking(self.ctl_w, False)

    def held_fds(self):
        return {self.out_r, self.err_r, self.in_w, self.ctl_w}

    def wait(self, ctl_r, out_w, err_w, in_r):
        detach(self.held_fds())
        null = os.open('/dev/null', os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        warm_up(ctl_r)
        size = read_exactly(ctl_r, COUNT.size)
        message = size and read_exactly(ctl_r, COUNT.unpack(size)[0])
        if not message:
            os._exit(0)
        os.close(ctl_r)
        line, _, code = message.partition(b'\n')
        h, real, cwd, command = json.loads(line)
        if not h.get('stdin'):
            os.close(in_r)
            in_r = None
        become(h, real, cwd, code, command, out_w, err_w, in_r)

    def give(self, h, real, cwd, code, command):
        # All or nothing: a spare that read part of a message before its pipe closed exits
        # without running it, so a block refused here runs once, by fork.
        message = json.dumps([h, real, cwd, command]).encode() + b'\n' + code
        data = COUNT.pack(len(message)) + message
        if len(data) > self.capacity:
            return False
        try:
            written = os.write(self.ctl_w, data)
        except OSError:
            return False
        if written < len(data):
            return False
        os.close(self.ctl_w)
        self.ctl_w = None
        if not h.get('stdin'):
            os.close(self.in_w)
            self.in_w = None
        return True

    def discard(self, kill=True):
        # Not killed once reaped: its pid may be another process's by then.
        if kill:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        for fd in self.held_fds() - {None}:
            try:
                os.close(fd)
            except OSError:
                pass

def read_exactly(fd, size):
    # Into one buffer: a block's code may be megabytes, which concatenation would copy again and
    # again.
    data = bytearray(size)
    view = memoryview(data)
    got = 0
    while got < size:
        count = os.readv(fd, [view[got:]])
        if not count:
            return None
        got += count
    return bytes(data)

def warm_up(ctl_r):
    # What a block's start and a small program write, done once here; each step is skipped once
    # the block has come (the block never waits on more than one step). The module imported is
    # the standard library's, found there by path: the runtime's current directory (the
    # workspace) is never searched, so no user file runs here. What the steps add to
    # sys.modules is taken out again.
    loaded = set(sys.modules)
    stdlib = os.path.dirname(os.__file__)
    import io
    from importlib.machinery import PathFinder
    from importlib.util import module_from_spec

    def load_stdlib_module():
        spec = PathFinder.find_spec('colorsys', [stdlib])
        spec.loader.exec_module(module_from_spec(spec))

    steps = [
        lambda: io.TextIOWrapper(io.FileIO(1, 'w', closefd=False), encoding='utf-8', write_through=True).write('.'),
        lambda: exec(compile('x = [str(i) for i in range(3)]', '<warm-up>', 'exec'), {}),
        load_stdlib_module,
        lambda: (PathFinder.find_spec('pod_runner_absent', ['/']), sys.path_importer_cache.pop('/', None)),
    ]
    for step in steps:
        if select.select([ctl_r], [], [], 0)[0]:
            break
        try:
            step()
        except Exception:
            pass
    for name in set(sys.modules) - loaded:
        module = sys.modules.pop(name)
        parent, _, child = name.rpartition('.')
        if parent in sys.modules and getattr(sys.modules[parent], child, None) is module:
            delattr(sys.modules[parent], child)

def make_spare():
    global spare, spare_failed
    try:
        spare = Spare()
    except OSError:
        spare_failed = True

def spare_ended(pid):
    # A spare that ended unused (killed, or broken by the pod) is not made again: no fork loop.
    global spare, spare_failed
    if spare is not None and spare.pid == pid:
        spare.discard(kill=False)
        spare = None
        spare_failed = True

def launch(h, real, cwd, code, command):
    # (pid, stdout reader, stderr reader, stdin writer or None) of the block's process.
    global spare
    ready, spare = spare, None
    if ready is not None:
        if ready.give(h, real, cwd, code, command):
            return ready.pid, ready.out_r, ready.err_r, ready.in_w
        ready.discard()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe() if h.get('stdin') else (None, None)
    pid = os.fork()
    if pid == 0:
        try:
            detach({out_r, err_r, in_w})
            become(h, real, cwd, code, command, out_w, err_w, in_r)
        finally:
            os._exit(127)
    os.close(out_w)
    os.close(err_w)
    if in_r is not None:
        os.close(in_r)
    try:
        os.setpgid(pid, pid)
    except OSError:
        pass
    return pid, out_r, err_r, in_w
`;
