import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PodJupyterCodeExecutor, type KernelOutputEvent } from '../../src/core/index.ts';
import { FakeJupyterServer, type FakeOutcome } from '../support/fakeJupyterServer.ts';

/**
 * What a broken or hostile Jupyter server can send, message by message: nothing may throw out of
 * the WebSocket's handlers (that ends the host process), each cell ends with a sensible result, and
 * the kept output stays within maxOutputBytes however much the kernel prints.
 */
describe('a hostile Jupyter server (scripted)', () => {
  let fake: FakeJupyterServer;
  let executor: PodJupyterCodeExecutor;
  const maxOutputBytes = 64 * 1024;

  before(async () => {
    fake = await FakeJupyterServer.start();
    executor = new PodJupyterCodeExecutor(fake.info, { timeout: 20, maxOutputBytes });
    await executor.start();
  });

  after(async () => {
    await executor.stop();
    await fake.stop();
  });

  /** Runs one cell whose execution the fake scripts with `outcome`; collects uncaught exceptions. */
  async function runWith(outcome: FakeOutcome) {
    const uncaught: unknown[] = [];
    const record = (error: unknown) => uncaught.push(error);
    process.on('uncaughtException', record);
    fake.onExecute = (request, server) => server.run(request, outcome);
    try {
      const result = await executor.executeCodeBlocks([{ language: 'python', code: 'cell()' }]);
      return { result, uncaught };
    } finally {
      process.off('uncaughtException', record);
    }
  }

  const traceback = (value: unknown) => ({
    iopub: [
      { msgType: 'error', content: { ename: 'ValueError', evalue: 'boom', traceback: value } },
    ],
    status: 'error' as const,
    iopubError: false,
  });

  const cases: { name: string; outcome: FakeOutcome; exitCode: number; output: string }[] = [
    {
      name: 'a status with content null',
      outcome: { iopub: [{ msgType: 'status', content: null }] },
      exitCode: 0,
      output: 'after\n',
    },
    {
      name: 'a status whose content is a string',
      outcome: { iopub: [{ msgType: 'status', content: 'idle' }] },
      exitCode: 0,
      output: 'after\n',
    },
    {
      name: 'a stream with content null',
      outcome: { iopub: [{ msgType: 'stream', content: null }] },
      exitCode: 0,
      output: 'after\n',
    },
    {
      name: 'a stream whose text is a number or a mixed list',
      outcome: {
        iopub: [
          { msgType: 'stream', content: { name: 'stdout', text: 42 } },
          { msgType: 'stream', content: { name: 'stdout', text: ['a', 1, 'b\n'] } },
        ],
      },
      exitCode: 0,
      output: 'ab\nafter\n',
    },
    {
      name: 'a display_data whose data is null and transient a string',
      outcome: {
        iopub: [
          { msgType: 'display_data', content: { data: null, metadata: 'x', transient: 'y' } },
        ],
      },
      exitCode: 0,
      output: 'after\n',
    },
    {
      name: 'an execute_result whose data is a string',
      outcome: {
        iopub: [
          { msgType: 'execute_result', content: { data: 'text/plain', execution_count: 'one' } },
        ],
      },
      exitCode: 0,
      output: 'after\n',
    },
    {
      name: 'an input_request with content null (input is answered with an empty line)',
      outcome: { iopub: [{ msgType: 'input_request', content: null }] },
      exitCode: 0,
      output: 'after\n',
    },
    {
      name: 'an update_display_data, clear_output and execute_input with content null',
      outcome: {
        iopub: ['update_display_data', 'clear_output', 'execute_input'].map((msgType) => ({
          msgType,
          content: null,
        })),
      },
      exitCode: 0,
      output: 'after\n',
    },
    {
      name: 'frames that are not messages (not JSON, null, a list, no header, header null)',
      outcome: {
        frames: [
          '{not json',
          'null',
          '[1,2]',
          '7',
          '{"content":{}}',
          '{"header":null}',
          '{"header":{"msg_type":5}}',
        ],
      },
      exitCode: 0,
      output: 'after\n',
    },
    {
      name: 'a message whose parent_header is null or a string',
      outcome: {
        frames: [
          JSON.stringify({
            channel: 'iopub',
            header: { msg_id: 'x', msg_type: 'stream' },
            parent_header: null,
            content: { text: 'lost' },
          }),
          JSON.stringify({
            channel: 'iopub',
            header: { msg_id: 'y', msg_type: 'status' },
            parent_header: 'p',
            content: null,
          }),
        ],
      },
      exitCode: 0,
      output: 'after\n',
    },
    {
      name: 'an error whose traceback is a string, not a list',
      outcome: traceback('Traceback: not a list'),
      exitCode: 1,
      output: 'after\nERROR: ValueError: boom\nTraceback: not a list',
    },
    {
      name: 'an error whose traceback holds numbers and null',
      outcome: traceback([1, null, 'line']),
      exitCode: 1,
      output: 'after\nERROR: ValueError: boom\nline',
    },
    {
      name: 'an error with content null, then an execute_reply error',
      outcome: { iopub: [{ msgType: 'error', content: null }], status: 'error', iopubError: false },
      exitCode: 1,
      output: 'after\nERROR: : \n',
    },
    {
      name: 'an execute_reply whose content is null',
      outcome: { replyContent: null },
      exitCode: 0,
      output: 'after\n',
    },
    {
      name: 'an error execute_reply whose traceback is an object',
      outcome: { replyContent: { status: 'error', ename: 'E', evalue: 'v', traceback: { a: 1 } } },
      exitCode: 1,
      output: 'after\nERROR: E: v\n',
    },
  ];

  for (const { name, outcome, exitCode, output } of cases) {
    test(`${name}: no exception escapes, the cell ends with a sensible result`, async () => {
      const { result, uncaught } = await runWith({ stdout: 'after\n', ...outcome });
      assert.deepEqual(uncaught.map(String), [], 'nothing was thrown out of an event handler');
      assert.equal(result.exitCode, exitCode, result.output);
      assert.equal(result.output, output);
    });
  }

  test('the kernel still runs cells after all that', async () => {
    const { result } = await runWith({ stdout: 'fine\n' });
    assert.deepEqual(result, { exitCode: 0, output: 'fine\n', outputFiles: [] });
  });

  test('40 MiB of kernel output keeps only maxOutputBytes: its head and tail, and how much was left out', async () => {
    const mebibyte = 1024 * 1024;
    const chunks = [
      'h'.repeat(mebibyte),
      ...Array<string>(38).fill('m'.repeat(mebibyte)),
      't'.repeat(mebibyte),
    ];
    const seen: KernelOutputEvent[] = [];
    fake.onExecute = (request, server) =>
      server.run(request, {
        iopub: chunks.map((text) => ({ msgType: 'stream', content: { name: 'stdout', text } })),
      });
    const result = await executor.executeCodeBlocks([{ language: 'python', code: 'flood()' }], {
      onOutput: (event) => seen.push(event),
    });
    const half = maxOutputBytes / 2;
    assert.equal(result.exitCode, 0);
    const kept = Buffer.byteLength(result.output);
    assert.ok(kept < maxOutputBytes + 100, `${kept} bytes kept`);
    assert.equal(
      result.output,
      `${'h'.repeat(half)}\n... [${40 * mebibyte - maxOutputBytes} bytes of output truncated] ...\n${'t'.repeat(half)}`,
    );
    assert.equal(
      seen.filter((event) => event.type === 'stream').length,
      40,
      'onOutput sees every event',
    );
  });

  test('the cap holds across the blocks of one call, and an error after the flood is kept', async () => {
    const mebibyte = 1024 * 1024;
    let block = 0;
    fake.onExecute = (request, server) => {
      block += 1;
      server.run(request, {
        iopub: [
          { msgType: 'stream', content: { name: 'stdout', text: String(block).repeat(mebibyte) } },
        ],
        ...(block === 2 ? { status: 'error' as const, iopubError: false } : {}),
      });
    };
    const result = await executor.executeCodeBlocks([
      { language: 'python', code: 'first()' },
      { language: 'python', code: 'second()' },
    ]);
    assert.equal(result.exitCode, 1);
    assert.ok(
      Buffer.byteLength(result.output) < maxOutputBytes + 100,
      `${Buffer.byteLength(result.output)} bytes kept`,
    );
    assert.ok(result.output.startsWith('1111'));
    assert.match(result.output, /bytes of output truncated/);
    assert.ok(result.output.endsWith('22ERROR: ValueError: boom\nValueError: boom'));
  });
});
