/**
 * The programs a sync runs in the pod, in Python here and in POSIX sh in shPrograms.ts (framing:
 * framing.ts). Each
 * reads or writes one framed stream, so a whole batch costs one exec.
 *
 * Receivers write every file to a temporary name and rename it into place only after its closing
 * ".\n" arrived, then print `ok <record number>`; on any failure they print
 * `err <record number> <reason>`, remove the temporary file and exit 1. Lines that are neither are
 * a failed command's own message (sh sends its tools' stderr there), the detail of the next `err`.
 * At the end they print `done`; the Python receiver's `done 1` adds that sh and the tools of the
 * sh receiver are on the PATH as well.
 *
 * Receivers run as `<root> list|mark|check <marker>`: each leaves the marker file (in /tmp) the
 * sync engine named; one told to `check` that finds none prints `new-pod` and writes nothing, for
 * the container is not the one the engine recorded (a pod replaced under the same name).
 */

// Only os and sys: every other import costs the receiver's start-up in the pod (re and hashlib
// together about 10 ms), which a sync of one changed file pays in full.
const pythonPathCodec = `
import atexit, os, sys
# Buffered whatever PYTHONUNBUFFERED says (images often set it): one write per flush, not one
# write (and one WebSocket frame) per line.
out = open(1, 'wb', closefd=False)
atexit.register(out.flush)
SAFE = set(b'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/+,=@~-')
def enc(p):
    return ''.join(chr(b) if b in SAFE else '\\\\0%03o' % b for b in p)
def dec(s):
    # Every backslash starts an escape: a backslash itself travels as one.
    if b'\\\\' not in s:
        return s
    parts = s.split(b'\\\\0')
    return parts[0] + b''.join(bytes([int(part[:3], 8)]) + part[3:] for part in parts[1:])
`;

export const pythonReceiver = `${pythonPathCodec}
number = 0
tmp = None
def fail(reason):
    if tmp is not None:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    out.write(('err %d %s\\n' % (number, reason.replace('\\n', ' '))).encode())
    out.flush()
    sys.exit(1)
# The stream is read in large pieces by the receiver itself, so that it knows when it is about to
# wait: the confirmations written so far go out first, in one write rather than one per file.
data = b''
pos = 0
def more():
    global data, pos
    out.flush()
    chunk = os.read(0, 1 << 20)
    if not chunk:
        fail('the stream ended early')
    data = data[pos:] + chunk
    pos = 0
def line():
    global pos
    while True:
        end = data.find(b'\\n', pos)
        if end >= 0:
            found = data[pos:end]
            pos = end + 1
            return found
        more()
def copy(fd, size):
    global pos
    while size:
        if pos >= len(data):
            more()
        end = min(pos + size, len(data))
        piece = memoryview(data)[pos:end]
        while piece:
            piece = piece[os.write(fd, piece):]
        size -= end - pos
        pos = end
def prune(p):
    parent = os.path.dirname(p)
    while parent:
        try:
            os.rmdir(parent)
        except OSError:
            return
        parent = os.path.dirname(parent)
def folder(parent):
    # The folder mirrors a local folder: a symlink or file in its way is replaced, never followed.
    prefix = b''
    for part in parent.split(b'/'):
        prefix = os.path.join(prefix, part)
        if os.path.islink(prefix) or os.path.isfile(prefix):
            os.unlink(prefix)
    os.makedirs(parent, exist_ok=True)
    # A receiver that was killed left its temporary file behind.
    for name in os.listdir(parent):
        pid = name[16:-4]
        if name.startswith(b'.podrunner-sync.') and name.endswith(b'.tmp') and pid.isdigit():
            if not os.path.exists(b'/proc/' + pid):
                os.unlink(parent + b'/' + name)
def real_parent(p):
    # The folder of p opened without following a symlink anywhere on the way, else None: a
    # deletion under a symlink the pod planted must not reach outside the root.
    fd = os.open(b'.', os.O_RDONLY | os.O_DIRECTORY)
    for part in os.path.dirname(p).split(b'/'):
        if part:
            try:
                inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            except OSError:
                inner = None
            os.close(fd)
            if inner is None:
                return None
            fd = inner
    return fd
try:
    os.makedirs(sys.argv[1], exist_ok=True)
    os.chdir(sys.argv[1])
except OSError as e:
    fail(e.strerror or str(e))
def listing(top):
    for entry in os.scandir(top):
        if entry.is_symlink():
            out.write(b'l %s\\0' % entry.path[2:])
        elif entry.is_dir():
            if entry.name != b'.git':
                listing(entry.path)
        elif entry.is_file():
            out.write(b'f %s\\0' % entry.path[2:])
def mark():
    try:
        os.close(os.open(sys.argv[3], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        return True
    except OSError:
        return False
if sys.argv[2] == 'list':
    # What the root held before: the paths this sync does not write are deleted afterwards.
    listing(b'.')
    out.write(b'end\\0')
if sys.argv[2] != 'check' or os.path.exists(sys.argv[3]):
    mark()
elif mark():
    # No mark of this sync's earlier receivers: a new container, whose files nobody recorded.
    out.write(b'new-pod\\n')
    out.flush()
    sys.exit(0)
def on_path(tool):
    return any(os.access(os.path.join(d, tool), os.X_OK) for d in os.environ.get('PATH', '').split(':') if d)
umask = os.umask(0)
os.umask(umask)
CREATE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, 'O_NOFOLLOW', 0)
made = set()
suffix = b'.podrunner-sync.%d.tmp' % os.getpid()
while True:
    fields = line().split()
    number += 1
    op = fields[0] if fields else b''
    if op == b'Q':
        # "done 1": sh and its receiver's tools are here too, so a sync of a few files may use them.
        tools = ('sh', 'head', 'mkdir', 'mv', 'chmod', 'rm', 'rmdir', 'ln')
        out.write(b'done %d\\n' % all(on_path(tool) for tool in tools))
        out.flush()
        break
    try:
        if op == b'F' or op == b'L':
            p = dec(fields[-1])
            parent = os.path.dirname(p) or b'.'
            if parent not in made:
                folder(parent)
                made.add(parent)
            tmp = parent + b'/' + suffix
            if op == b'L':
                os.symlink(dec(fields[1]), tmp)
            else:
                mode = int(fields[1], 8)
                fd = os.open(tmp, CREATE, mode)
                try:
                    copy(fd, int(fields[2]))
                    if mode & umask:
                        os.fchmod(fd, mode)
                finally:
                    os.close(fd)
                while len(data) - pos < 2:
                    more()
                if data[pos:pos + 2] != b'.\\n':
                    fail('the stream ended early')
                pos += 2
            try:
                os.replace(tmp, p)
            except IsADirectoryError:
                # The local side has a file where the pod has a folder: the mirror replaces it.
                import shutil
                shutil.rmtree(p)
                os.replace(tmp, p)
            tmp = None
        elif op == b'D':
            p = dec(fields[1])
            fd = real_parent(p)
            # Under a symlink or a file the path is gone from the root already.
            if fd is not None:
                try:
                    name = os.path.basename(p)
                    # Not a folder (S_IFDIR): a file or symlink, removed.
                    if os.lstat(name, dir_fd=fd).st_mode & 0o170000 != 0o040000:
                        os.unlink(name, dir_fd=fd)
                except FileNotFoundError:
                    pass
                finally:
                    os.close(fd)
                prune(p)
            made.clear()
        else:
            fail('unexpected record')
    except OSError as e:
        fail(e.strerror or str(e))
    out.write(b'ok %d\\n' % number)
`;

/** Prints `f <mode> <size> <sha256> <path>` and `l <target> <path>` for the tree, then `end`. */
export const pythonLister = `${pythonPathCodec}
import hashlib, stat
root = os.fsencode(sys.argv[1])
def walk(folder):
    for entry in os.scandir(folder):
        rel = os.path.relpath(entry.path, root)
        if entry.is_symlink():
            out.write(b'l %s %s\\n' % (enc(os.readlink(entry.path)).encode(), enc(rel).encode()))
        elif entry.is_dir():
            if entry.name != b'.git':
                walk(entry.path)
        elif entry.is_file():
            st = entry.stat(follow_symlinks=False)
            h = hashlib.sha256()
            try:
                with open(entry.path, 'rb') as f:
                    for chunk in iter(lambda: f.read(1 << 20), b''):
                        h.update(chunk)
            except OSError:
                continue
            line = 'f %o %d %s %s\\n' % (stat.S_IMODE(st.st_mode), st.st_size, h.hexdigest(), enc(rel))
            out.write(line.encode())
if os.path.isdir(root):
    walk(root)
out.write(b'end\\n')
`;

/** Sends a file or a folder (named by its base name) as a framed stream on stdout. */
export const pythonSender = `${pythonPathCodec}
import stat
source = os.fsencode(sys.argv[1].rstrip('/') or '/')
base = os.path.dirname(source)
def send(path):
    rel = enc(os.path.relpath(path, base))
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        out.write(b'L %s %s\\n' % (enc(os.readlink(path)).encode(), rel.encode()))
    elif stat.S_ISDIR(st.st_mode):
        out.write(b'M %s\\n' % rel.encode())
        for name in sorted(os.listdir(path)):
            send(os.path.join(path, name))
    elif stat.S_ISREG(st.st_mode):
        with open(path, 'rb') as f:
            left = os.fstat(f.fileno()).st_size
            out.write(b'F %o %d %s\\n' % (stat.S_IMODE(st.st_mode), left, rel.encode()))
            while left:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    # The file shrank: the stream is cut rather than padded.
                    sys.exit(1)
                out.write(chunk)
                left -= len(chunk)
        out.write(b'.\\n')
try:
    send(source)
except OSError as e:
    out.write(('X %s %s\\n' % (enc(os.fsencode(e.filename or source)), e.strerror or e)).encode())
    sys.exit(0)
out.write(b'Q\\n')
`;
