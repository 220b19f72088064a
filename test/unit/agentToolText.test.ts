import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  agentConfirmation,
  agentResultLimit,
  agentResultText,
} from '../../src/extension/agentToolText.ts';

test('the confirmation names the pod kind, the context and the namespace, and shows the code fenced', () => {
  const text = agentConfirmation(
    { code: 'print("```")\n', target: 'kernel' },
    { context: 'prod_eu-1', namespace: 'team-a' },
  );
  assert.match(text, /the kernel pod \(state is kept between calls\)/);
  // Markdown in the names cannot style or hide them.
  assert.match(text, /context \*\*prod\\_eu\\-1\*\*, namespace \*\*team\\-a\*\*/);
  // A fence longer than any backtick run in the code: the code cannot close it early.
  assert.ok(text.includes('````python\nprint("```")\n\n````'), text);
});

test('the result keeps the end of a long output and says how much was left out', () => {
  const output = `${'a'.repeat(agentResultLimit)}tail\n`;
  const text = agentResultText(output, 0);
  assert.ok(text.startsWith('[5 characters of output left out]\n'), text.slice(0, 60));
  assert.ok(text.endsWith('tail\nexit code 0'), text.slice(-30));
  assert.equal(agentResultText('', 124), 'exit code 124 (timed out)');
  assert.equal(agentResultText('no newline', 1), 'no newline\nexit code 1');
});
