import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StreamTextRenderer } from '../../src/extension/streamText.ts';

const render = (text: string) => new StreamTextRenderer().write(text).text;

test('stream text applies carriage returns and backspaces as Jupyter front ends do', () => {
  assert.equal(render('progress 10%\rprogress 50%\rprogress 100%\n'), 'progress 100%\n');
  assert.equal(render('abc\b\bX\n'), 'aX\n');
  assert.equal(render('line one\nover\rO'), 'line one\nOver');
});

test('later text appends, or rewrites only the unfinished line', () => {
  const renderer = new StreamTextRenderer();
  assert.deepEqual(renderer.write('done\n10%'), { rewound: false, text: 'done\n10%' });
  assert.deepEqual(renderer.write(' more'), { rewound: false, text: ' more' });
  assert.deepEqual(renderer.write('\r50%'), { rewound: true, text: '50% more' });
  assert.deepEqual(renderer.write('X'), { rewound: true, text: '50%Xmore' });
  assert.deepEqual(renderer.write('\rall\nnext'), { rewound: true, text: 'allXmore\nnext' });
  assert.deepEqual(renderer.write('\b\bw'), { rewound: true, text: 'new' });
});
