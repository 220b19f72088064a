/**
 * The Kubernetes protobuf messages the emulator decodes, with the field numbers of k8s.io/api and
 * k8s.io/apimachinery. One entry a message, one `number name[:type]` a field:
 * - type is `string` when left out; `int` (any varint integer), `bool` and `bytes` are scalars;
 *   any other name is a message of this table (Time, MicroTime, Quantity and IntOrString become
 *   JSON strings or numbers, as their Go types marshal);
 * - `[]T` is repeated (`[]` alone: of strings); `map`, `map<bytes>`, `map<Quantity>` have string keys;
 * - a trailing `?` marks a pointer field, whose zero value still reaches the JSON (Go's omitempty
 *   drops it otherwise);
 * - `...` before the type inlines a message's fields into its parent (Go's `json:",inline"`).
 * Fields a client never sends (status, most of PodSpec) are left out: decoding skips them.
 */
const messages = {
  Unknown: '1 typeMeta:TypeMeta, 2 raw:bytes, 3 contentEncoding, 4 contentType',
  TypeMeta: '1 apiVersion, 2 kind',
  Time: '1 seconds:int, 2 nanos:int',
  MicroTime: '1 seconds:int, 2 nanos:int',
  Quantity: '1 string',
  IntOrString: '1 type:int, 2 intVal:int, 3 strVal',
  ObjectMeta:
    '1 name, 2 generateName, 3 namespace, 4 selfLink, 5 uid, 6 resourceVersion, 7 generation:int, 8 creationTimestamp:Time, 9 deletionTimestamp:Time, 10 deletionGracePeriodSeconds:int?, 11 labels:map, 12 annotations:map, 13 ownerReferences:[]OwnerReference, 14 finalizers:[]',
  OwnerReference:
    '1 kind, 3 name, 4 uid, 5 apiVersion, 6 controller:bool?, 7 blockOwnerDeletion:bool?',
  DeleteOptions:
    '1 gracePeriodSeconds:int?, 2 preconditions:Preconditions, 3 orphanDependents:bool?, 4 propagationPolicy?, 5 dryRun:[]',
  Preconditions: '1 uid?, 2 resourceVersion?',

  Namespace: '1 metadata:ObjectMeta, 2 spec:NamespaceSpec',
  NamespaceSpec: '1 finalizers:[]',
  ConfigMap: '1 metadata:ObjectMeta, 2 data:map, 3 binaryData:map<bytes>, 4 immutable:bool?',
  Secret: '1 metadata:ObjectMeta, 2 data:map<bytes>, 3 type, 4 stringData:map, 5 immutable:bool?',
  Service: '1 metadata:ObjectMeta, 2 spec:ServiceSpec',
  ServiceSpec:
    '1 ports:[]ServicePort, 2 selector:map, 3 clusterIP, 4 type, 5 externalIPs:[], 7 sessionAffinity, 8 loadBalancerIP, 9 loadBalancerSourceRanges:[], 10 externalName, 11 externalTrafficPolicy, 12 healthCheckNodePort:int, 13 publishNotReadyAddresses:bool, 17 ipFamilyPolicy?, 18 clusterIPs:[], 19 ipFamilies:[], 20 allocateLoadBalancerNodePorts:bool?, 21 loadBalancerClass?, 22 internalTrafficPolicy?, 23 trafficDistribution?',
  ServicePort:
    '1 name, 2 protocol, 3 port:int, 4 targetPort:IntOrString, 5 nodePort:int, 6 appProtocol?',

  Pod: '1 metadata:ObjectMeta, 2 spec:PodSpec',
  PodSpec:
    '1 volumes:[]Volume, 2 containers:[]Container, 3 restartPolicy, 4 terminationGracePeriodSeconds:int?, 5 activeDeadlineSeconds:int?, 6 dnsPolicy, 7 nodeSelector:map, 8 serviceAccountName, 9 serviceAccount, 10 nodeName, 11 hostNetwork:bool, 12 hostPID:bool, 13 hostIPC:bool, 15 imagePullSecrets:[]LocalObjectReference, 16 hostname, 17 subdomain, 19 schedulerName, 20 initContainers:[]Container, 21 automountServiceAccountToken:bool?, 24 priorityClassName, 25 priority:int?, 27 shareProcessNamespace:bool?, 29 runtimeClassName?, 30 enableServiceLinks:bool?, 31 preemptionPolicy?',
  Container:
    '1 name, 2 image, 3 command:[], 4 args:[], 5 workingDir, 6 ports:[]ContainerPort, 7 env:[]EnvVar, 8 resources:ResourceRequirements, 9 volumeMounts:[]VolumeMount, 10 livenessProbe:Probe, 11 readinessProbe:Probe, 13 terminationMessagePath, 14 imagePullPolicy, 16 stdin:bool, 17 stdinOnce:bool, 18 tty:bool, 19 envFrom:[]EnvFromSource, 20 terminationMessagePolicy, 22 startupProbe:Probe, 24 restartPolicy?',
  ContainerPort: '1 name, 2 hostPort:int, 3 containerPort:int, 4 protocol, 5 hostIP',
  EnvVar: '1 name, 2 value, 3 valueFrom:EnvVarSource',
  EnvVarSource:
    '1 fieldRef:ObjectFieldSelector, 3 configMapKeyRef:KeySelector, 4 secretKeyRef:KeySelector',
  ObjectFieldSelector: '1 apiVersion, 2 fieldPath',
  // ConfigMapKeySelector and SecretKeySelector share this layout, as do the two EnvSources.
  KeySelector: '1 reference:...LocalObjectReference, 2 key, 3 optional:bool?',
  EnvFromSource: '1 prefix, 2 configMapRef:EnvSource, 3 secretRef:EnvSource',
  EnvSource: '1 reference:...LocalObjectReference, 2 optional:bool?',
  LocalObjectReference: '1 name',
  ResourceRequirements: '1 limits:map<Quantity>, 2 requests:map<Quantity>',
  VolumeMount:
    '1 name, 2 readOnly:bool, 3 mountPath, 4 subPath, 5 mountPropagation?, 6 subPathExpr, 7 recursiveReadOnly?',
  Volume: '1 name, 2 source:...VolumeSource',
  VolumeSource:
    '1 hostPath:HostPathVolumeSource, 2 emptyDir:EmptyDirVolumeSource, 6 secret:SecretVolumeSource, 10 persistentVolumeClaim:PersistentVolumeClaimVolumeSource, 19 configMap:ConfigMapVolumeSource',
  HostPathVolumeSource: '1 path, 2 type?',
  EmptyDirVolumeSource: '1 medium, 2 sizeLimit:Quantity',
  SecretVolumeSource: '1 secretName, 2 items:[]KeyToPath, 3 defaultMode:int?, 4 optional:bool?',
  ConfigMapVolumeSource:
    '1 reference:...LocalObjectReference, 2 items:[]KeyToPath, 3 defaultMode:int?, 4 optional:bool?',
  KeyToPath: '1 key, 2 path, 3 mode:int?',
  PersistentVolumeClaimVolumeSource: '1 claimName, 2 readOnly:bool',
  Probe:
    '1 handler:...ProbeHandler, 2 initialDelaySeconds:int, 3 timeoutSeconds:int, 4 periodSeconds:int, 5 successThreshold:int, 6 failureThreshold:int, 7 terminationGracePeriodSeconds:int?',
  ProbeHandler: '1 exec:ExecAction, 2 httpGet:HTTPGetAction, 3 tcpSocket:TCPSocketAction',
  ExecAction: '1 command:[]',
  HTTPGetAction: '1 path, 2 port:IntOrString, 3 host, 4 scheme, 5 httpHeaders:[]HTTPHeader',
  HTTPHeader: '1 name, 2 value',
  TCPSocketAction: '1 port:IntOrString, 2 host',

  Event:
    '1 metadata:ObjectMeta, 2 involvedObject:ObjectReference, 3 reason, 4 message, 5 source:EventSource, 6 firstTimestamp:Time, 7 lastTimestamp:Time, 8 count:int, 9 type, 10 eventTime:MicroTime, 12 action, 13 related:ObjectReference, 14 reportingComponent, 15 reportingInstance',
  ObjectReference:
    '1 kind, 2 namespace, 3 name, 4 uid, 5 apiVersion, 6 resourceVersion, 7 fieldPath',
  EventSource: '1 component, 2 host',

  SelfSubjectAccessReview: '1 metadata:ObjectMeta, 2 spec:SelfSubjectAccessReviewSpec',
  SelfSubjectAccessReviewSpec:
    '1 resourceAttributes:ResourceAttributes, 2 nonResourceAttributes:NonResourceAttributes',
  ResourceAttributes: '1 namespace, 2 verb, 3 group, 4 version, 5 resource, 6 subresource, 7 name',
  NonResourceAttributes: '1 path, 2 verb',
  SelfSubjectRulesReview: '1 metadata:ObjectMeta, 2 spec:SelfSubjectRulesReviewSpec',
  SelfSubjectRulesReviewSpec: '1 namespace',
} as const;

export type MessageName = keyof typeof messages;

export type Scalar = 'string' | 'int' | 'bool' | 'bytes';

export interface FieldSchema {
  name: string;
  type: Scalar | MessageName;
  repeated: boolean;
  /** The value type of a map with string keys. */
  mapOf?: 'string' | 'bytes' | 'Quantity';
  pointer: boolean;
  inline: boolean;
}

const scalars = new Set<string>(['string', 'int', 'bool', 'bytes']);

export function isMessageName(name: string): name is MessageName {
  return Object.hasOwn(messages, name);
}

function parseField(owner: string, text: string): [number, FieldSchema] {
  const match = /^(\d+) (\w+)(?::(\.\.\.)?(\[\])?([\w<>]*))?(\?)?$/.exec(text.trim());
  if (!match) {
    throw new Error(`protobuf schema of ${owner}: cannot read "${text}"`);
  }
  const [, number, name, inline, repeated, written, pointer] = match;
  const map = /^map(?:<(\w+)>)?$/.exec(written ?? '');
  const type = map ? 'string' : written || 'string';
  if (!scalars.has(type) && !isMessageName(type)) {
    throw new Error(`protobuf schema of ${owner}: unknown type ${type}`);
  }
  return [
    Number(number),
    {
      name: name!,
      type: type as Scalar | MessageName,
      repeated: repeated !== undefined,
      ...(map ? { mapOf: (map[1] ?? 'string') as 'string' | 'bytes' | 'Quantity' } : {}),
      pointer: pointer !== undefined,
      inline: inline !== undefined,
    },
  ];
}

const schemas = new Map<string, Map<number, FieldSchema>>(
  Object.entries(messages).map(([name, fields]) => [
    name,
    new Map(fields.split(',').map((field) => parseField(name, field))),
  ]),
);

/** The fields of a message by number. */
export function messageSchema(name: MessageName): Map<number, FieldSchema> {
  return schemas.get(name)!;
}
