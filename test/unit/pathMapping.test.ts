import assert from 'node:assert/strict';
import { test } from 'node:test';
import { localToRemote, remoteToLocal, type PathMapping } from '../../src/core/index.ts';

const project: PathMapping = { local: '/home/ada/proj', remote: '/workspace/proj' };
const selection: PathMapping = {
  local: '/home/ada/proj/app/main.py',
  remote: '/workspace/tmp_code_ab12.py',
  lineOffset: 6,
};

test('a CPython traceback names the local files, line numbers unchanged for folders', () => {
  const traceback = [
    'Traceback (most recent call last):',
    '  File "/workspace/proj/app/main.py", line 2, in <module>',
    '    from app.util import parse',
    '  File "/workspace/proj/app/util.py", line 3, in parse',
    "FileNotFoundError: [Errno 2] No such file or directory: '/workspace/proj/data/in.csv'",
  ].join('\n');
  assert.equal(
    remoteToLocal(traceback, [project]),
    [
      'Traceback (most recent call last):',
      '  File "/home/ada/proj/app/main.py", line 2, in <module>',
      '    from app.util import parse',
      '  File "/home/ada/proj/app/util.py", line 3, in parse',
      "FileNotFoundError: [Errno 2] No such file or directory: '/home/ada/proj/data/in.csv'",
    ].join('\n'),
  );
});

test('IPython 8 frames (unquoted, spaces allowed) and path:line:col forms', () => {
  const mappings = [{ local: '/home/ada/my proj', remote: '/workspace/my proj' }];
  assert.equal(
    remoteToLocal('File /workspace/my proj/app/util.py:3, in parse()\n', mappings),
    'File /home/ada/my proj/app/util.py:3, in parse()\n',
  );
  assert.equal(
    remoteToLocal('/workspace/proj/app/util.py:3:7: E501 line too long', [project]),
    '/home/ada/proj/app/util.py:3:7: E501 line too long',
  );
  assert.equal(
    remoteToLocal('(/workspace/proj/run.sh) and /workspace/proj', [project]),
    '(/home/ada/proj/run.sh) and /home/ada/proj',
  );
});

test("IPython's coloured tracebacks (raw error outputs) are mapped, colours kept", () => {
  const frame =
    'File \u001b[0;32m/workspace/proj/app/util.py:2\u001b[0m, in \u001b[0;36mparse\u001b[0;34m(t)\u001b[0m\n';
  assert.equal(
    remoteToLocal(frame, [project]),
    'File \u001b[0;32m/home/ada/proj/app/util.py:2\u001b[0m, in \u001b[0;36mparse\u001b[0;34m(t)\u001b[0m\n',
  );
  const spaced = [{ local: '/home/ada/my proj', remote: '/workspace/my proj' }];
  assert.equal(
    remoteToLocal('File \u001b[0;32m/workspace/my proj/a.py:2\u001b[0m, in f()', spaced),
    'File \u001b[0;32m/home/ada/my proj/a.py:2\u001b[0m, in f()',
  );
  assert.equal(
    remoteToLocal('File \u001b[0;32m/workspace/tmp_code_ab12.py:2\u001b[0m, in f()', [selection]),
    'File \u001b[0;32m/home/ada/proj/app/main.py:8\u001b[0m, in f()',
  );
  assert.equal(remoteToLocal('name/workspace/proj/x', [project]), 'name/workspace/proj/x');
});

test('the longest mapping wins; a path merely sharing the first characters is not mapped', () => {
  const nested: PathMapping = { local: '/home/ada/lib', remote: '/workspace/proj/vendor/lib' };
  assert.equal(
    remoteToLocal('File "/workspace/proj/vendor/lib/x.py", line 1', [project, nested]),
    'File "/home/ada/lib/x.py", line 1',
  );
  assert.equal(
    remoteToLocal('File "/workspace/proj2/x.py", line 1 and /workspace/projx', [project]),
    'File "/workspace/proj2/x.py", line 1 and /workspace/projx',
  );
  assert.equal(
    remoteToLocal('/other/workspace/proj/x.py and ./workspace/proj/y', [project]),
    '/other/workspace/proj/x.py and ./workspace/proj/y',
  );
});

test("a selection's code file maps to the editor file with its lines shifted", () => {
  assert.equal(
    remoteToLocal(
      '  File "/workspace/tmp_code_ab12.py", line 1, in <module>\n' +
        '  File "/workspace/proj/app/util.py", line 3, in parse\n' +
        'File /workspace/tmp_code_ab12.py:2, in f()\n',
      [project, selection],
    ),
    '  File "/home/ada/proj/app/main.py", line 7, in <module>\n' +
      '  File "/home/ada/proj/app/util.py", line 3, in parse\n' +
      'File /home/ada/proj/app/main.py:8, in f()\n',
  );
  const script = { local: '/home/ada/proj/run.sh', remote: '/workspace/tmp_code_cd.sh' };
  assert.equal(
    remoteToLocal(
      '/workspace/tmp_code_cd.sh: line 2: nope: command not found\n' +
        '/workspace/tmp_code_cd.sh: 4: nope: not found\n',
      [{ ...script, lineOffset: 10 }],
    ),
    '/home/ada/proj/run.sh: line 12: nope: command not found\n' +
      '/home/ada/proj/run.sh: 14: nope: not found\n',
  );
  // `: N` is a line number only in dash's `path: N:` form.
  assert.equal(
    remoteToLocal('wrote to /workspace/tmp_code_cd.sh: 12 bytes\n', [
      { ...script, lineOffset: 10 },
    ]),
    'wrote to /home/ada/proj/run.sh: 12 bytes\n',
  );
});

test('Windows local paths get backslashes; localToRemote accepts either separator and case', () => {
  const windows: PathMapping = { local: 'C:\\Users\\ada\\proj', remote: '/workspace/proj' };
  assert.equal(
    remoteToLocal('File "/workspace/proj/app/util.py", line 3', [windows]),
    'File "C:\\Users\\ada\\proj\\app\\util.py", line 3',
  );
  assert.equal(
    localToRemote('c:\\users\\ada\\proj\\app\\util.py', [windows]),
    '/workspace/proj/app/util.py',
  );
  assert.equal(
    localToRemote('C:/Users/ada/proj/data/in.csv', [windows]),
    '/workspace/proj/data/in.csv',
  );
  assert.equal(localToRemote('C:\\Users\\ada\\proj2\\x.py', [windows]), undefined);
  assert.equal(localToRemote('C:\\Users\\ada\\proj\\..\\x.py', [windows]), undefined);
  assert.equal(
    localToRemote('C:\\Users\\ada\\proj\\app\\.\\..\\run.py', [windows]),
    '/workspace/proj/run.py',
  );
});

test('localToRemote: the folder, files under it, the longest mapping, nothing outside', () => {
  const nested: PathMapping = { local: '/home/ada/proj/sub', remote: '/srv/sub' };
  assert.equal(localToRemote('/home/ada/proj', [project]), '/workspace/proj');
  assert.equal(localToRemote('/home/ada/proj/', [project]), '/workspace/proj');
  assert.equal(localToRemote('/home/ada/proj/a b/c.py', [project]), '/workspace/proj/a b/c.py');
  assert.equal(localToRemote('/home/ada/proj/sub/x.py', [project, nested]), '/srv/sub/x.py');
  assert.equal(localToRemote('/home/ada/project/x.py', [project]), undefined);
  assert.equal(localToRemote('/home/ada/proj/../x.py', [project]), undefined);
  assert.equal(localToRemote('/home/ada/proj/sub/../..', [project]), undefined);
  assert.equal(localToRemote('/home/ada/proj/./app//x.py', [project]), '/workspace/proj/app/x.py');
  assert.equal(localToRemote('/home/ada/proj/..data/x', [project]), '/workspace/proj/..data/x');
  assert.equal(
    localToRemote('/home/ada/proj/app/main.py', [selection]),
    '/workspace/tmp_code_ab12.py',
  );
});

test('round trip: a local file maps to the pod and back', () => {
  const local = '/home/ada/proj/app/util.py';
  const remote = localToRemote(local, [project])!;
  assert.equal(remoteToLocal(`File "${remote}", line 1`, [project]), `File "${local}", line 1`);
  assert.equal(remoteToLocal('no paths here', [project]), 'no paths here');
  assert.equal(remoteToLocal('/workspace/proj/x', []), '/workspace/proj/x');
});

test('whole outputs map in linear time (quadratic would take minutes): 10 MB on one line and on many', () => {
  const piece = 'File "/workspace/proj/app/util.py", line 3 /usr/lib/x.py /workspace/projx ';
  for (const separator of [' ', '\n']) {
    const text = Array.from({ length: 140_000 }, () => piece).join(separator);
    const started = performance.now();
    const mapped = remoteToLocal(text, [project, selection]);
    assert.ok(performance.now() - started < 5_000, `took ${performance.now() - started} ms`);
    assert.equal(mapped.split('/home/ada/proj/app/util.py').length - 1, 140_000);
    assert.equal(mapped.split('/workspace/projx').length - 1, 140_000);
  }
});
