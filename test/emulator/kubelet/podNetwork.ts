import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';

/**
 * Each pod's network, as a routed CNI plugin makes it: a veth pair whose pod end is `eth0` with
 * the pod's IP (a /32 from 100.64.0.0/10, unique on the host, so emulators running side by side
 * never share one), a default route through a link-local gateway the host end answers by proxy
 * ARP, and the pod's traffic to anywhere else masqueraded as the host's. Pods reach what the host
 * reaches (PyPI for `pip install`), as pods on a real node do; to each other they keep their own
 * addresses.
 */

const run = promisify(execFile);
const toolEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
/** Names the emulator's rules in iptables, so a leak check can find any left behind. */
export const podNetworkRuleComment = 'pod-runner-emulator-pod';
const gateway = '169.254.1.1';
const podRange = '100.64.0.0/10';

export interface PodNetwork {
  readonly podIP: string;
  /** Removes the rules and the veth pair; the pod's end goes with it. Idempotent. */
  detach(): Promise<void>;
}

async function command(file: string, args: string[]): Promise<void> {
  await run(file, args, { env: toolEnv });
}

function randomPodIP(): string {
  // 100.64.0.0/10: 22 bits of host part; .0 and .255 left out of each /24 for readability.
  const value = randomInt(0, 1 << 22);
  return `100.${64 + (value >> 16)}.${(value >> 8) & 0xff}.${Math.max(1, Math.min(254, value & 0xff))}`;
}

function natRule(podIP: string, action: '-I' | '-D'): string[] {
  return [
    '-t',
    'nat',
    action,
    'POSTROUTING',
    '-s',
    `${podIP}/32`,
    // Pod to pod stays unmasqueraded, as the Kubernetes network model asks.
    '!',
    '-d',
    podRange,
    '-m',
    'comment',
    '--comment',
    podNetworkRuleComment,
    '-j',
    'MASQUERADE',
  ];
}

function forwardRules(hostEnd: string, action: '-I' | '-D'): string[][] {
  // Inserted first: a host whose FORWARD chain ends in a REJECT still forwards the pod's traffic.
  return ['-i', '-o'].map((direction) => [
    action,
    'FORWARD',
    direction,
    hostEnd,
    '-m',
    'comment',
    '--comment',
    podNetworkRuleComment,
    '-j',
    'ACCEPT',
  ]);
}

/** Gives the pod whose network namespace `pausePid` holds its eth0, route and egress. */
export async function attachPodNetwork(pausePid: number): Promise<PodNetwork> {
  const hostEnd = `prv${randomBytes(5).toString('hex')}`;
  await command('ip', [
    'link',
    'add',
    hostEnd,
    'type',
    'veth',
    'peer',
    'name',
    'eth0',
    'netns',
    String(pausePid),
  ]);
  const undo: (() => Promise<void>)[] = [() => command('ip', ['link', 'del', hostEnd])];
  const detach = async () => {
    for (const step of undo.splice(0).reverse()) {
      await step().catch(() => undefined);
    }
  };
  try {
    await writeFile(`/proc/sys/net/ipv4/conf/${hostEnd}/proxy_arp`, '1');
    await command('ip', ['link', 'set', hostEnd, 'up']);
    let podIP = '';
    // The host route is the claim on the address: another pod's route makes this one fail.
    for (let attempt = 0; !podIP; attempt++) {
      const candidate = randomPodIP();
      try {
        await command('ip', ['route', 'add', `${candidate}/32`, 'dev', hostEnd]);
        podIP = candidate;
      } catch (error) {
        if (attempt >= 8) {
          throw error;
        }
      }
    }
    const inPod = (args: string[]) =>
      command('nsenter', [`--net=/proc/${pausePid}/ns/net`, '--', 'ip', ...args]);
    await inPod(['addr', 'add', `${podIP}/32`, 'dev', 'eth0']);
    await inPod(['link', 'set', 'eth0', 'up']);
    await inPod(['route', 'add', gateway, 'dev', 'eth0', 'scope', 'link']);
    await inPod(['route', 'add', 'default', 'via', gateway, 'dev', 'eth0']);
    await enableForwarding();
    for (const rule of [natRule(podIP, '-I'), ...forwardRules(hostEnd, '-I')]) {
      await command('iptables', ['-w', ...rule]);
      const removal = rule.map((part) => (part === '-I' ? '-D' : part));
      undo.push(() => command('iptables', ['-w', ...removal]));
    }
    return { podIP, detach };
  } catch (error) {
    await detach();
    throw new Error(
      `the emulator could not set up the pod's network (veth, route, iptables): ${String(error)}`,
    );
  }
}

/**
 * IP forwarding is one switch for the whole host. It is turned on and left on, as a node's
 * kubelet and CNI plugins leave it: setting it back while another emulator's pods still need it,
 * or after a crash, would be wrong, and switching it also resets other per-interface settings.
 */
async function enableForwarding(): Promise<void> {
  const forwarding = '/proc/sys/net/ipv4/ip_forward';
  if ((await readFile(forwarding, 'utf8')).trim() !== '1') {
    await writeFile(forwarding, '1');
  }
}
