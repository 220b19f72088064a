import type {
  JsonObject,
  PodProfile,
  PodRunnerSettings,
  ProfilePod,
  SpecInput,
} from '../core/index.ts';
import { loadCore } from './lazyCore.ts';

/**
 * What a pod is built from: its image, its manifest when a setting or a profile gives one, and
 * the label naming the profile.
 */
export interface ProfilePodOptions {
  image: string;
  podSpec?: SpecInput;
  resources?: JsonObject;
  labels: Record<string, string>;
}

/**
 * The image and manifest of `pod` from the settings, under `profile` when one is given: a
 * profile is turned into a podSpec that the pod's own merge completes.
 */
export async function podOptionsOf(
  settings: PodRunnerSettings,
  profile: PodProfile | undefined,
  pod: ProfilePod,
): Promise<ProfilePodOptions> {
  const { profileLabel, profilePodSpec, resourceRequirements } = await loadCore();
  const executor = pod === 'executor';
  const image = executor ? settings.image : settings.jupyterImage;
  // The podSpec, volume and resources settings are the executor pod's alone.
  const podSpec = executor ? settings.podSpec : undefined;
  const resources = executor ? resourceRequirements(settings.resources) : undefined;
  if (!profile) {
    return {
      image,
      ...(podSpec !== undefined ? { podSpec } : {}),
      ...(resources ? { resources } : {}),
      labels: {},
    };
  }
  const limits = resources?.limits as Record<string, string | number> | undefined;
  return {
    image: (executor ? profile.image : profile.jupyterImage) ?? image,
    podSpec: profilePodSpec(profile, pod, {
      ...(podSpec !== undefined ? { podSpec } : {}),
      image,
      ...(limits ? { limits } : {}),
      workspacePath: settings.workspacePath,
    }),
    labels: { [profileLabel]: profile.name },
  };
}

/** A profile in one line: images, limits, node selector. */
export function summary(profile: PodProfile): string {
  const limits = Object.entries(profile.limits).map(([name, value]) => `${name} ${value}`);
  const selector = Object.entries(profile.nodeSelector).map(([key, value]) => `${key}=${value}`);
  return [
    ...(profile.image ? [profile.image] : []),
    ...(profile.jupyterImage ? [`kernel ${profile.jupyterImage}`] : []),
    ...limits,
    ...selector,
    ...profile.volumes.map((volume) => `${volume.claimName} at ${volume.mountPath}`),
  ].join(' · ');
}
