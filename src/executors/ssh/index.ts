export { fetchHostKeyFingerprint, fetchHostKeys, type HostKeyInfo } from './keyscan.js';
export { SUPPORTED_HOST_KEY_TYPES, hostKeyAlgorithmsFor, isSupportedHostKeyType } from './host-key-types.js';
export { FINGERPRINT_PATTERN, fingerprintOf, isFingerprint, keyTypeOf } from './fingerprint.js';
export { buildRemoteCommand, quoteShellArg } from './quote.js';
export { DEFAULT_CONNECT_TIMEOUT_MS, SshExecutor, SshTarget, type SshTargetInput } from './ssh-executor.js';
