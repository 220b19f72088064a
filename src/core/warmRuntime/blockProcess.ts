/**
 * The warm runtime's block processes (runtimeProgram.ts holds the rest): where a block's code
 * file goes (checked as on the exec path, podScripts.ts), and what its fork does before the code
 * runs: its own process group, tag, command line, descriptors, environment and directory; then
 * Python code runs as `python FILE` would, and other languages exec their interpreter. A block
 * that reads stdin frames is fed through a pipe written only when it takes more (`pump`).
 */
export const blockProcessPython = String.raw`
# The runtime starts with a placeholder tag in its environment; a block's fork writes its own tag
# over it in place (where /proc/PID/environ reads from), so even forks of the block that never
# exec a program carry it and are found by it. Its command line is rewritten the same way: the
# runtime shows as 'python pod-runner-warm-runtime', a block as 'python FILE', as on the exec path.
os.environ.pop(TAG, None)
try:
    import ctypes
    with open('/proc/self/stat', 'rb') as f:
        ARG_START, ARG_END, ENV_START = map(int, f.read().rsplit(b')', 1)[1].split()[45:48])
    with open('/proc/self/cmdline', 'rb') as f:
        ARGV0 = f.read().split(b'\0')[0]
except Exception:
    ctypes = None

def retag(tag):
    with open('/proc/self/environ', 'rb') as f:
        env = b'\0' + f.read()
    at = env.find(b'\0' + PLACEHOLDER + b'\0')
    if ctypes and at >= 0:
        ctypes.memmove(ENV_START + at + len(TAG) + 1, tag.encode(), len(tag))

def retitle(name):
    if ctypes:
        title = (ARGV0 + b'\0' + name.encode() + b'\0')[:ARG_END - ARG_START]
        ctypes.memmove(ARG_START, title.ljust(ARG_END - ARG_START, b'\0'), ARG_END - ARG_START)


class Refused(Exception):
    def __init__(self, status, message=''):
        self.exit = {'status': status, 'message': message}

def place(block, code):
    h = block.h
    ws, name = h['workspace'], h['name']
    if not os.path.isdir(ws):
        try:
            os.makedirs(ws, exist_ok=True)
        except OSError:
            raise Refused('failed', 'cannot create the workspace ' + ws)
    root = os.path.realpath(ws)
    real = os.path.join(root, name)
    if '/' in name or name in ('', '.', '..') or os.path.islink(real):
        real = os.path.realpath(name if name.startswith('/') else os.path.join(root, name))
        if not real.startswith(root.rstrip('/') + '/'):
            raise Refused('outside')
        try:
            os.makedirs(os.path.dirname(real), exist_ok=True)
        except OSError:
            raise Refused('failed', 'cannot create the directory of ' + name)
    folder, base = os.path.split(real)
    part = os.path.join(folder, '.' + base + '.' + h['tag'] + '.part')
    try:
        with open(part, 'wb') as f:
            f.write(code)
        if os.path.isdir(real):
            raise OSError()
        os.rename(part, real)
    except OSError:
        remove(part)
        raise Refused('failed', 'cannot write ' + real)
    if h['remove']:
        block.file = real
    return root, real

def locate(given):
    real = given['path']
    if not os.path.isfile(real):
        raise Refused('failed', real + ' is not in the pod: not synced (new since the last sync, ignored, or too large)')
    return None, real

def remove(path):
    try:
        os.unlink(path)
    except OSError:
        pass

def find(program):
    for folder in os.environ.get('PATH', '/usr/bin:/bin').split(':'):
        path = os.path.join(folder or '.', program)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None

def feed(block, payload):
    if payload:
        block.inbox.append(memoryview(payload))
    else:
        block.stdin_end = True
    pump(block)

def pump(block):
    # Writes what the pipe takes now; each write is told to the client, which sends more only
    # while little is in flight, so one slow reader holds a bounded amount here and stalls nobody.
    fd = block.stdin_fd
    if fd is None:
        release(block)
        return
    try:
        while block.inbox:
            chunk = block.inbox[0]
            written = os.write(fd, chunk)
            send(TAKEN, block.bid, COUNT.pack(written))
            if written < len(chunk):
                block.inbox[0] = chunk[written:]
                break
            block.inbox.pop(0)
    except BlockingIOError:
        pass
    except OSError:
        close_stdin(block)
        release(block)
        return
    if block.inbox and fd not in writers:
        writers[fd] = block
        poller.register(fd, select.POLLOUT)
    elif not block.inbox and fd in writers:
        del writers[fd]
        poller.unregister(fd)
    if block.stdin_end and not block.inbox:
        close_stdin(block)

def release(block):
    # A reader gone: what it would have read is dropped, and told as taken.
    taken = sum(len(chunk) for chunk in block.inbox)
    block.inbox = []
    if taken:
        send(TAKEN, block.bid, COUNT.pack(taken))

def close_stdin(block):
    fd = block.stdin_fd
    if fd is None:
        return
    if writers.pop(fd, None):
        poller.unregister(fd)
    os.close(fd)
    block.stdin_fd = None

def detach(extra):
    # A fresh fork leads its own group, takes signals as a new process would, and holds none of
    # the runtime's descriptors: not even another block's stdin writing end, which would keep that
    # block from ever reading the end of its stdin.
    os.setpgid(0, 0)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    stdin_ends = {block.stdin_fd for block in blocks.values() if block.stdin_fd is not None}
    for fd in {wake_r, wake_w, *readers, *stdin_ends, *extra} - {None}:
        if fd > 2:
            os.close(fd)

def become(h, real, cwd, code, command, out_w, err_w, in_r):
    retag(h['tag'])
    stdin_r = os.open('/dev/null', os.O_RDONLY) if in_r is None else in_r
    os.dup2(stdin_r, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    for fd in {stdin_r, out_w, err_w}:
        if fd > 2:
            os.close(fd)
    os.environ[TAG] = h['tag']
    os.environ['PYTHONUNBUFFERED'] = '1'
    if h['roots']:
        os.environ['PYTHONPATH'] = ':'.join(h['roots'] + [p for p in [os.environ.get('PYTHONPATH')] if p])
    given = h.get('file') or {'args': [], 'assignments': []}
    for assignment in given['assignments']:
        name, _, value = assignment.partition('=')
        os.environ[name] = value
    os.chdir(cwd)
    if command:
        # Python ignores these at start-up, and an ignored signal stays ignored across exec: the
        # program gets them as an exec's process would (a file over its size limit is fatal).
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
        os.execv(command[0], command + given['args'])
    program = h.get('program')
    if program:
        retitle(program['title'])
        run_python('<string>', code, ['-c'] + program['argv'], [''] + BASE_PATH)
    if h.get('file'):
        with open(real, 'rb') as f:
            code = f.read()
    retitle(real)
    run_python(real, code, [real] + given['args'], [os.path.dirname(real)] + h['roots'] + BASE_PATH)

def run_python(real, code, argv, path):
    import io
    encoding = sys.stdout.encoding
    sys.stdin = sys.__stdin__ = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, 'r', closefd=False)), encoding=encoding)
    sys.stdout = sys.__stdout__ = io.TextIOWrapper(io.FileIO(1, 'w', closefd=False), encoding=encoding, errors=sys.stdout.errors, write_through=True)
    sys.stderr = sys.__stderr__ = io.TextIOWrapper(io.FileIO(2, 'w', closefd=False), encoding=encoding, errors='backslashreplace', write_through=True)
    sys.argv = argv
    sys.path[:] = path
    main = type(sys)('__main__')
    if real != '<string>':
        main.__file__ = real
    main.__builtins__ = __builtins__
    sys.modules['__main__'] = main
    status = 0
    interrupted = False
    try:
        compiled = compile(code, real, 'exec')
    except SyntaxError as error:
        sys.excepthook(type(error), error, None)
        status = 1
    else:
        try:
            exec(compiled, main.__dict__)
        except SystemExit as done:
            status = exit_status(done.code)
        except BaseException as error:
            interrupted = isinstance(error, KeyboardInterrupt)
            # Without this frame, the traceback is the one 'python FILE' prints.
            error.__traceback__ = error.__traceback__.tb_next
            sys.excepthook(type(error), error, error.__traceback__)
            status = 1
    try:
        threading = sys.modules.get('threading')
        if threading:
            threading._shutdown()
        import atexit
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:
        pass
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(status)

def exit_status(code):
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
`;
