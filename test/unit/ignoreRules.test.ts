import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import {
  compileIgnorePattern,
  isIgnored,
  parseIgnoreText,
} from '../../src/core/workspaceSync/ignoreRules.ts';
import { nodeFileSystem, walkLocalTree } from '../../src/core/workspaceSync/localTree.ts';
import { decodePath, encodePath } from '../../src/core/workspaceSync/framing.ts';
import { scratchDir } from '../support/scratch.ts';

const scratch = scratchDir('pod-runner-ignore-');
let treeCount = 0;

/** Writes files (path → content) under a fresh folder and returns it. */
function tree(files: Record<string, string>): string {
  const root = join(scratch, `tree-${++treeCount}`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  mkdirSync(root, { recursive: true });
  return root;
}

const sent = async (root: string, exclude?: string[]) =>
  (await walkLocalTree(root, { maxFileBytes: 1e9, ...(exclude ? { exclude } : {}) })).entries.map(
    (entry) => entry.path,
  );

/** One pattern against paths: which of them it ignores (as a top-level .gitignore would). */
function ignoredBy(pattern: string, paths: string[], isDir = false): string[] {
  const layers = [{ base: '', prefix: '', rules: parseIgnoreText(pattern) }];
  return paths.filter((path) => isIgnored(layers, path, isDir));
}

describe('gitignore patterns', () => {
  test('a pattern without a slash matches the name at any depth', () => {
    assert.deepEqual(ignoredBy('*.log', ['a.log', 'd/e/b.log', 'a.logx', 'log']), [
      'a.log',
      'd/e/b.log',
    ]);
  });

  test('a slash at the start or in the middle anchors the pattern', () => {
    assert.deepEqual(ignoredBy('/build', ['build', 'src/build']), ['build']);
    assert.deepEqual(ignoredBy('doc/*.txt', ['doc/a.txt', 'doc/x/a.txt', 'x/doc/a.txt']), [
      'doc/a.txt',
    ]);
  });

  test('** as a whole segment: leading, trailing and in the middle; elsewhere it is *', () => {
    assert.deepEqual(ignoredBy('**/foo', ['foo', 'a/foo', 'a/b/foo', 'afoo']), [
      'foo',
      'a/foo',
      'a/b/foo',
    ]);
    assert.deepEqual(ignoredBy('abc/**', ['abc', 'abc/x', 'abc/x/y']), ['abc/x', 'abc/x/y']);
    assert.deepEqual(ignoredBy('a/**/b', ['a/b', 'a/x/b', 'a/x/y/b', 'a/xb']), [
      'a/b',
      'a/x/b',
      'a/x/y/b',
    ]);
    assert.deepEqual(ignoredBy('a**z', ['abcz', 'ab/cz']), ['abcz']);
  });

  test('? and [...] never match a slash; ranges, negated classes and POSIX classes', () => {
    assert.deepEqual(ignoredBy('?.txt', ['a.txt', 'ab.txt']), ['a.txt']);
    assert.deepEqual(ignoredBy('a?b', ['a/b', 'axb']), ['axb']);
    assert.deepEqual(ignoredBy('[a-c].md', ['a.md', 'c.md', 'd.md']), ['a.md', 'c.md']);
    assert.deepEqual(ignoredBy('[!a].md', ['a.md', 'b.md']), ['b.md']);
    assert.deepEqual(ignoredBy('x[[:digit:]]', ['x1', 'xa']), ['x1']);
    assert.deepEqual(ignoredBy('[]x]', [']', 'x', 'y']), [']', 'x']);
    assert.deepEqual(ignoredBy('a[/]b', ['a/b']), []);
    assert.deepEqual(ignoredBy('[unclosed', ['[unclosed', 'u']), ['[unclosed']);
  });

  test('escapes, comments, trailing spaces and invalid lines', () => {
    assert.deepEqual(ignoredBy('\\#file', ['#file']), ['#file']);
    assert.equal(compileIgnorePattern('#comment'), undefined);
    assert.deepEqual(ignoredBy('\\!important', ['!important']), ['!important']);
    assert.deepEqual(ignoredBy('name  ', ['name', 'name  ']), ['name']);
    assert.deepEqual(ignoredBy('name\\ ', ['name', 'name ']), ['name ']);
    assert.deepEqual(ignoredBy('a\\*b', ['a*b', 'axb']), ['a*b']);
    assert.equal(compileIgnorePattern('bad\\'), undefined);
    assert.equal(compileIgnorePattern(''), undefined);
  });

  test('a trailing slash matches folders only; negation re-includes; the last match wins', () => {
    assert.deepEqual(ignoredBy('out/', ['out'], false), []);
    assert.deepEqual(ignoredBy('out/', ['out'], true), ['out']);
    assert.deepEqual(ignoredBy('*.log\n!keep.log', ['a.log', 'keep.log']), ['a.log']);
    assert.deepEqual(ignoredBy('!keep.log\n*.log', ['keep.log']), ['keep.log']);
  });

  test('names with newlines and non-ASCII match', () => {
    assert.deepEqual(ignoredBy('a*b', ['a\nb']), ['a\nb']);
    assert.deepEqual(ignoredBy('é*', ['été', 'ete']), ['été']);
  });
});

describe('the local tree', () => {
  test('nested .gitignore files: a deeper one overrides, anchored to its own folder', async () => {
    const root = tree({
      '.gitignore': '*.txt\n/top.md\n',
      'a.txt': '',
      'top.md': '',
      'sub/top.md': '',
      'sub/.gitignore': '!b.txt\n/local\n',
      'sub/b.txt': '',
      'sub/c.txt': '',
      'sub/local/x': '',
      'local/y': '',
    });
    assert.deepEqual(await sent(root), [
      '.gitignore',
      'local/y',
      'sub/.gitignore',
      'sub/b.txt',
      'sub/top.md',
    ]);
  });

  test('a file re-included under an excluded folder stays excluded, as in git', async () => {
    const root = tree({ '.gitignore': 'build/\n!build/keep.txt\n', 'build/keep.txt': '' });
    assert.deepEqual(await sent(root), ['.gitignore']);
  });

  test('.git/info/exclude, the exclude option and .git itself', async () => {
    const root = tree({
      '.git/info/exclude': 'secret.env\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      'secret.env': '',
      'data.csv': '',
      'notes.md': '',
      'sub/.git': 'gitdir: elsewhere\n',
      'sub/kept.py': '',
    });
    assert.deepEqual(await sent(root, ['*.csv']), ['notes.md', 'sub/kept.py']);
  });

  test('a folder inside a repository obeys the .gitignore files above it', async () => {
    const root = tree({
      '.git/HEAD': '',
      '.gitignore': 'project/generated/\n*.tmp\n',
      'project/main.py': '',
      'project/x.tmp': '',
      'project/generated/out.py': '',
    });
    assert.deepEqual(await sent(join(root, 'project')), ['main.py']);
  });

  test('ignored folders are never read', async () => {
    const files: Record<string, string> = { '.gitignore': 'node_modules/\n', 'app.js': '' };
    for (let i = 0; i < 2000; i++) {
      files[`node_modules/pkg${i % 50}/f${i}.js`] = '';
    }
    const root = tree(files);
    const read: string[] = [];
    const fileSystem = {
      ...nodeFileSystem,
      readdir: (path: string, options: { withFileTypes: true }) => {
        read.push(path);
        return nodeFileSystem.readdir(path, options);
      },
    };
    const walked = await walkLocalTree(root, { maxFileBytes: 1e9, fileSystem });
    assert.deepEqual(
      walked.entries.map((entry) => entry.path),
      ['.gitignore', 'app.js'],
    );
    assert.deepEqual(read, [root]);
  });

  test('symlinks: inside kept (absolute ones made relative), leaving or looping skipped', async () => {
    const root = tree({ 'data/a.txt': 'a' });
    symlinkSync('data/a.txt', join(root, 'inside'));
    symlinkSync(join(root, 'data'), join(root, 'absolute-inside'));
    symlinkSync('../outside', join(root, 'leaving'));
    symlinkSync('loop-b', join(root, 'loop-a'));
    symlinkSync('loop-a', join(root, 'loop-b'));
    symlinkSync('leaving', join(root, 'via-leaving'));
    const walked = await walkLocalTree(root, { maxFileBytes: 1e9 });
    assert.deepEqual(
      walked.entries.filter((entry) => entry.kind === 'symlink'),
      [
        { kind: 'symlink', path: 'absolute-inside', target: 'data' },
        { kind: 'symlink', path: 'inside', target: 'data/a.txt' },
      ],
    );
    assert.deepEqual(
      walked.skipped.map((entry) => [entry.path, entry.reason.split(' (')[0]]),
      [
        ['leaving', 'symlink points outside the folder'],
        ['loop-a', 'symlink loop'],
        ['loop-b', 'symlink loop'],
        ['via-leaving', 'symlink leads outside the folder'],
      ],
    );
  });

  test('a link chain that leaves through another link is skipped; names starting with ".." are inside', async () => {
    const root = tree({ '..notes': 'n', 'sub/keep.txt': 'k' });
    symlinkSync('..notes', join(root, 'to-notes'));
    symlinkSync('../..notes', join(root, 'sub/up'));
    mkdirSync(join(root, 's'));
    symlinkSync('.', join(root, 's/b'));
    // Read lexically, s/b/../.. is the root; through the link s/b it is the root's parent.
    symlinkSync('b/../..', join(root, 's/a'));
    const walked = await walkLocalTree(root, { maxFileBytes: 1e9 });
    assert.deepEqual(walked.entries.map((entry) => entry.path).sort(), [
      '..notes',
      's/b',
      'sub/keep.txt',
      'sub/up',
      'to-notes',
    ]);
    assert.deepEqual(
      walked.skipped.map((entry) => [entry.path, entry.reason.split(' (')[0]]),
      [['s/a', 'symlink leads outside the folder']],
    );
  });

  test('agrees with git on a tree of tricky rules', async () => {
    const root = tree({
      '.gitignore': [
        '*.o',
        '!important.o',
        '/root-only.txt',
        'logs/',
        'docs/**/draft*',
        '**/cache',
        '[Tt]emp?',
        'trailing\\ ',
        '\\#hash',
      ].join('\n'),
      'a.o': '',
      'important.o': '',
      'root-only.txt': '',
      'x/root-only.txt': '',
      'logs/1.txt': '',
      'x/logs/2.txt': '',
      'docs/draft1.md': '',
      'docs/a/b/draft2.md': '',
      'docs/final.md': '',
      'deep/cache/c.bin': '',
      Temp1: '',
      temp22: '',
      'trailing ': '',
      '#hash': '',
      'x/.gitignore': '!a.o\n*.md\n',
      'x/a.o': '',
      'x/b.md': '',
      'x/y/a.o': '',
    });
    execFileSync('git', ['init', '-q', root]);
    const gitFiles = execFileSync(
      'git',
      ['-C', root, 'ls-files', '-z', '--others', '--exclude-standard'],
      { encoding: 'utf8' },
    )
      .split('\0')
      .filter(Boolean)
      .sort();
    assert.deepEqual(await sent(root), gitFiles);
  });
});

test('paths are encoded so that sh and Python decode every byte', () => {
  for (const path of ['plain/a.txt', 'a b', 'new\nline', 'quote"\'$`\\', 'é/日本', '-dash']) {
    const encoded = encodePath(path);
    assert.match(encoded, /^[A-Za-z0-9._/+,=@~\\-]+$/);
    assert.equal(decodePath(encoded), path);
  }
});
