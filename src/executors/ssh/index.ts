export { fetchHostKeyFingerprint, type HostKeyInfo } from './keyscan.js';
export { FINGERPRINT_PATTERN, fingerprintOf, isFingerprint, keyTypeOf } from './fingerprint.js';
export { buildRemoteCommand, quoteShellArg } from './quote.js';
export { DEFAULT_CONNECT_TIMEOUT_MS, SshExecutor, SshTarget, type SshTargetInput } from './ssh-executor.js';
