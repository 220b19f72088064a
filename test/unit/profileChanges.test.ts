import '../support/useVscodeStub.ts';
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSettings } from '../../src/core/index.ts';
import { needsReconnect } from '../../src/extension/config.ts';
import { Profiles } from '../../src/extension/profiles.ts';

const logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };

/** The window's profiles over settings the test edits, with `chosen` the window's profile. */
function profilesOf(initial: Record<string, object>, chosen?: string) {
  let raw = initial;
  const state = new Map<string, unknown>([['podRunner.activeProfile', chosen]]);
  const ctx = {
    get settings() {
      return parseSettings({ profiles: raw });
    },
    extension: { workspaceState: { get: (key: string) => state.get(key) } },
    logger,
  };
  const profiles = new Profiles(ctx as never);
  return {
    profiles,
    edit: (next: Record<string, object>): boolean => {
      raw = next;
      return profiles.followChange();
    },
  };
}

const gpu = { image: 'registry.example/torch:2', resources: { cpu: '8' } };
const small = { resources: { cpu: '1' } };

test('a change of the profiles setting alone does not count as a change of the pods settings', () => {
  const event = { affectsConfiguration: (key: string) => key === 'podRunner.profiles' };
  assert.equal(needsReconnect(event as never), false);
});

test('editing a profile the window does not use leaves its pods', () => {
  const { profiles, edit } = profilesOf({ gpu, small }, 'gpu');
  assert.equal(edit({ gpu, small: { resources: { cpu: '2' } } }), false);
  assert.equal(edit({ gpu, small, other: {} }), false, 'a profile added');
  assert.equal(edit({ gpu }), false, 'a profile removed');
  profiles.dispose();
});

test('editing, removing or adding back the profile the window uses replaces its pods', () => {
  const { profiles, edit } = profilesOf({ gpu, small }, 'gpu');
  assert.equal(edit({ gpu: { ...gpu, resources: { cpu: '16' } }, small }), true);
  assert.equal(edit({ gpu: { ...gpu, resources: { cpu: '16' } }, small }), false, 'unchanged');
  assert.equal(edit({ small }), true, 'removed: the settings alone');
  assert.equal(edit({ gpu, small }), true, 'put back');
  profiles.dispose();
});

test('with no profile chosen, no profile change replaces the pods', () => {
  const { profiles, edit } = profilesOf({ gpu }, undefined);
  assert.equal(edit({ gpu: { ...gpu, image: 'registry.example/torch:3' } }), false);
  profiles.dispose();
});
