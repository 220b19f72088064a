import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiError } from '../emulator/apiErrors.ts';
import { decodeProtobufBody } from '../emulator/apiserver/protobuf/body.ts';

// A small protobuf writer, so each case spells out the bytes a client would send.
function varint(value: number | bigint): Buffer {
  let rest = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  do {
    const low = Number(rest & 0x7fn);
    rest >>= 7n;
    bytes.push(rest ? low | 0x80 : low);
  } while (rest);
  return Buffer.from(bytes);
}
const bytesField = (number: number, value: Buffer | string) => {
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([varint(number * 8 + 2), varint(bytes.length), bytes]);
};
const intField = (number: number, value: number | bigint) =>
  Buffer.concat([varint(number * 8), varint(value)]);
const message = (...fields: Buffer[]) => Buffer.concat(fields);
const mapEntry = (number: number, key: string, value: Buffer | string) =>
  bytesField(number, message(bytesField(1, key), bytesField(2, value)));
const envelope = (apiVersion: string, kind: string, raw: Buffer, ...extra: Buffer[]) =>
  Buffer.concat([
    Buffer.from('k8s\0', 'latin1'),
    bytesField(1, message(bytesField(1, apiVersion), bytesField(2, kind))),
    bytesField(2, raw),
    ...extra,
  ]);

function rejects(body: Buffer, message: RegExp): void {
  assert.throws(
    () => decodeProtobufBody(body),
    (error: unknown) =>
      error instanceof ApiError &&
      error.code === 400 &&
      error.reason === 'BadRequest' &&
      message.test(error.message),
  );
}

describe('protobuf request bodies', () => {
  test("kubectl auth can-i's review, as kubectl 1.32 sent it: the name is field 7, the subresource 6", () => {
    const sent = Buffer.from(
      [
        '6b 38 73 00 0a 32 0a 17 61 75 74 68 6f 72 69 7a 61 74 69 6f 6e 2e 6b 38 73 2e',
        '69 6f 2f 76 31 12 17 53 65 6c 66 53 75 62 6a 65 63 74 41 63 63 65 73 73 52 65',
        '76 69 65 77 12 43 0a 10 0a 00 12 00 1a 00 22 00 2a 00 32 00 38 00 42 00 12 25',
        '0a 23 0a 07 64 65 66 61 75 6c 74 12 06 63 72 65 61 74 65 1a 00 22 00 2a 04 70',
        '6f 64 73 32 00 3a 04 65 78 65 63 1a 08 08 00 12 00 1a 00 20 00 1a 00 22 00',
      ]
        .join(' ')
        .replaceAll(' ', ''),
      'hex',
    );
    assert.deepEqual(decodeProtobufBody(sent), {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      metadata: {},
      spec: {
        resourceAttributes: {
          namespace: 'default',
          verb: 'create',
          resource: 'pods',
          name: 'exec',
        },
      },
    });
  });

  test('a Pod: ObjectMeta, containers, probes, volumes (inlined sources), pointer zeros kept, unknown fields skipped', () => {
    const metadata = message(
      bytesField(2, 'web-'),
      bytesField(3, 'team'),
      mapEntry(11, 'app', 'web'),
      mapEntry(12, 'note', 'hi'),
      bytesField(
        13,
        message(
          bytesField(1, 'ConfigMap'),
          bytesField(3, 'owner'),
          bytesField(4, 'u-1'),
          bytesField(5, 'v1'),
          intField(6, 1),
        ),
      ),
      bytesField(14, 'example.com/keep'),
      bytesField(8, Buffer.alloc(0)),
      intField(7, 0),
    );
    const container = message(
      bytesField(1, 'main'),
      bytesField(2, 'busybox'),
      bytesField(3, 'sh'),
      bytesField(3, '-c'),
      bytesField(4, 'sleep 1'),
      bytesField(6, message(bytesField(1, 'http'), intField(3, 8080), bytesField(4, 'TCP'))),
      bytesField(7, message(bytesField(1, 'MODE'), bytesField(2, 'test'))),
      bytesField(8, message(mapEntry(1, 'memory', message(bytesField(1, '64Mi'))))),
      bytesField(9, message(bytesField(1, 'scratch'), bytesField(3, '/scratch'))),
      bytesField(
        11,
        message(
          bytesField(
            1,
            message(
              bytesField(
                2,
                message(
                  bytesField(1, '/ready'),
                  bytesField(2, message(intField(1, 1), bytesField(3, 'http'))),
                ),
              ),
            ),
          ),
          intField(4, 2),
        ),
      ),
      intField(16, 0),
      bytesField(99, 'a field from a newer release'),
    );
    const spec = message(
      bytesField(
        1,
        message(bytesField(1, 'scratch'), bytesField(2, bytesField(2, Buffer.alloc(0)))),
      ),
      bytesField(
        1,
        message(
          bytesField(1, 'settings'),
          bytesField(
            2,
            bytesField(19, message(bytesField(1, message(bytesField(1, 'web-config'))))),
          ),
        ),
      ),
      bytesField(2, container),
      bytesField(3, 'Never'),
      intField(4, 0),
      intField(5, -1),
      intField(11, 0),
    );
    assert.deepEqual(
      decodeProtobufBody(
        envelope(
          'v1',
          'Pod',
          message(bytesField(1, metadata), bytesField(2, spec), bytesField(3, Buffer.alloc(0))),
        ),
      ),
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: 'web-',
          namespace: 'team',
          labels: { app: 'web' },
          annotations: { note: 'hi' },
          ownerReferences: [
            { kind: 'ConfigMap', name: 'owner', uid: 'u-1', apiVersion: 'v1', controller: true },
          ],
          finalizers: ['example.com/keep'],
        },
        spec: {
          volumes: [
            { name: 'scratch', emptyDir: {} },
            { name: 'settings', configMap: { name: 'web-config' } },
          ],
          containers: [
            {
              name: 'main',
              image: 'busybox',
              command: ['sh', '-c'],
              args: ['sleep 1'],
              ports: [{ name: 'http', containerPort: 8080, protocol: 'TCP' }],
              env: [{ name: 'MODE', value: 'test' }],
              resources: { limits: { memory: '64Mi' } },
              volumeMounts: [{ name: 'scratch', mountPath: '/scratch' }],
              readinessProbe: { httpGet: { path: '/ready', port: 'http' }, periodSeconds: 2 },
            },
          ],
          restartPolicy: 'Never',
          terminationGracePeriodSeconds: 0,
          activeDeadlineSeconds: -1,
        },
      },
    );
  });

  test('a Secret keeps its bytes (base64 in JSON) and an Event its timestamps', () => {
    const secret = message(
      bytesField(1, bytesField(1, 'token')),
      mapEntry(2, 'key', Buffer.from([0, 255, 1])),
      bytesField(3, 'Opaque'),
      mapEntry(4, 'plain', 'text'),
    );
    assert.deepEqual(decodeProtobufBody(envelope('v1', 'Secret', secret)), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'token' },
      data: { key: 'AP8B' },
      type: 'Opaque',
      stringData: { plain: 'text' },
    });
    const event = message(
      bytesField(1, bytesField(1, 'started.1')),
      bytesField(2, message(bytesField(1, 'Pod'), bytesField(3, 'web'))),
      bytesField(3, 'Started'),
      bytesField(6, message(intField(1, 1_767_225_600))),
      bytesField(10, message(intField(1, 1_767_225_600), intField(2, 123_456_789))),
      intField(8, 2),
    );
    assert.deepEqual(decodeProtobufBody(envelope('v1', 'Event', event)), {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'started.1' },
      involvedObject: { kind: 'Pod', name: 'web' },
      reason: 'Started',
      firstTimestamp: '2026-01-01T00:00:00Z',
      eventTime: '2026-01-01T00:00:00.123456Z',
      count: 2,
    });
  });

  test('a Service port: numeric targetPort and nodePort', () => {
    const port = message(
      bytesField(1, 'web'),
      intField(3, 80),
      bytesField(4, message(intField(1, 0), intField(2, 8080))),
      intField(5, 30080),
    );
    const service = message(
      bytesField(1, bytesField(1, 'web')),
      bytesField(
        2,
        message(bytesField(1, port), mapEntry(2, 'app', 'web'), bytesField(4, 'NodePort')),
      ),
    );
    assert.deepEqual(decodeProtobufBody(envelope('v1', 'Service', service)).spec, {
      ports: [{ name: 'web', port: 80, targetPort: 8080, nodePort: 30080 }],
      selector: { app: 'web' },
      type: 'NodePort',
    });
  });

  test('malformed or unknown bodies are 400s that say what is wrong', () => {
    rejects(Buffer.from('{"kind":"Pod"}'), /does not start with the "k8s\\x00" prefix/);
    rejects(
      Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from([0x0a, 0x05, 0x61])]),
      /not a valid Kubernetes protobuf object: field 1 claims 5 bytes, only 1 remain/,
    );
    rejects(
      envelope('v1', 'ConfigMap', message(intField(1, 7))),
      /field 1 of ConfigMap has wire type 0, expected 2/,
    );
    rejects(
      envelope('apps/v1', 'Deployment', Buffer.alloc(0)),
      /no kind "Deployment" is registered for version "apps\/v1"/,
    );
    rejects(
      envelope('v1', 'Secret', Buffer.alloc(0), bytesField(3, 'gzip')),
      /content encoding "gzip" is not supported/,
    );
    rejects(
      Buffer.concat([Buffer.from('k8s\0', 'latin1'), Buffer.from([0x08, 0xff])]),
      /truncated or overlong varint/,
    );
  });
});
