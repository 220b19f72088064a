import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jupyterApiUrl, jupyterWebSocketUrl } from '../../src/core/index.ts';
import { outputEvent, stripAnsi, type JupyterMessage } from '../../src/core/jupyterMessages.ts';

test('URLs keep the path and put the port in the authority (the seed built https://host/path:443)', () => {
  assert.equal(
    jupyterApiUrl({ host: 'https://jupyter-server/access/path', port: 443 }, '/api/kernels'),
    'https://jupyter-server:443/access/path/api/kernels',
  );
  assert.equal(
    jupyterApiUrl({ host: 'gateway.team.svc.cluster.local', port: 8888 }, '/api/kernelspecs'),
    'http://gateway.team.svc.cluster.local:8888/api/kernelspecs',
  );
  assert.equal(
    jupyterApiUrl({ host: 'example.com', secure: true, basePath: '/jupyter/' }, '/api'),
    'https://example.com/jupyter/api',
  );
  assert.equal(
    jupyterWebSocketUrl({ host: 'https://h/base', port: 8443 }, '/api/kernels/k/channels'),
    'wss://h:8443/base/api/kernels/k/channels',
  );
  assert.equal(
    jupyterWebSocketUrl({ host: '127.0.0.1', port: 4000 }, '/x'),
    'ws://127.0.0.1:4000/x',
  );
  assert.throws(
    () => jupyterApiUrl({ host: 'h', port: 70000 }, '/'),
    /port: must be a port number/,
  );
});

test('iopub messages become typed events; ANSI codes are stripped for text results', () => {
  const message = (msgType: string, content: Record<string, unknown>): JupyterMessage =>
    ({
      channel: 'iopub',
      header: { msg_type: msgType },
      parent_header: {},
      metadata: {},
      content,
    }) as unknown as JupyterMessage;
  assert.deepEqual(outputEvent(message('stream', { name: 'stderr', text: 'x' })), {
    type: 'stream',
    name: 'stderr',
    text: 'x',
  });
  assert.deepEqual(
    outputEvent(
      message('update_display_data', {
        data: { 'text/plain': '1' },
        metadata: {},
        transient: { display_id: 'd1' },
      }),
    ),
    {
      type: 'update_display_data',
      data: { 'text/plain': '1' },
      metadata: {},
      displayId: 'd1',
    },
  );
  assert.deepEqual(outputEvent(message('clear_output', { wait: true })), {
    type: 'clear_output',
    wait: true,
  });
  assert.equal(outputEvent(message('comm_msg', {})), undefined);
  assert.equal(stripAnsi('\u001b[0;31mZeroDivisionError\u001b[0m: x'), 'ZeroDivisionError: x');
});
