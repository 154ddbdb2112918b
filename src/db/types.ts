/**
 * What the repositories take and return: plain data validated with zod, never Prisma's types.
 */
import { z } from 'zod';

/** Where a change came from (the audit log and decisions). */
export const Surface = z.enum(['slack', 'teams', 'cli', 'system']);
export type Surface = z.infer<typeof Surface>;

export const DefinitionSource = z.enum(['policy', 'cli']);
export type DefinitionSource = z.infer<typeof DefinitionSource>;

/** Host names: what a person types on the CLI and in chat. */
export const HostName = z
  .string()
  .min(1)
  .max(253)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    'letters, digits, ".", "_" and "-", starting with a letter or digit',
  );

export const Criticality = z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]);
export type Criticality = z.infer<typeof Criticality>;

/** SSH public key algorithms (the key's type as known_hosts and ssh-keyscan name it). */
export const HostKeyType = z
  .string()
  .max(64)
  .regex(/^(ssh|ecdsa|sk)-[a-z0-9@.-]+$/, 'an SSH key type such as "ssh-ed25519"');

/** A pinned SSH host key: the sha256 of its blob as hex and, when known, its type. */
export const PinnedHostKey = z.strictObject({
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'sha256 hex (64 lowercase hex digits)'),
  type: HostKeyType.nullable().default(null),
});
export type PinnedHostKey = z.output<typeof PinnedHostKey>;

/** A host as the policy file or `patchbot hosts add` defines it. */
export const HostInput = z.strictObject({
  name: HostName,
  address: z.string().min(1).max(255),
  port: z.number().int().min(1).max(65535).default(22),
  sshUser: z.string().min(1).max(64).nullish(),
  /** Pinned SSH host keys: any of them is accepted (several while a key is rotated). */
  hostKeys: z
    .array(PinnedHostKey)
    .max(32)
    .default([])
    .refine((keys) => new Set(keys.map((k) => k.sha256)).size === keys.length, 'a key is pinned twice'),
  /** Private key file for this host (an absolute path). */
  identityFile: z.string().min(1).max(4096).nullish(),
  osFamily: z.string().max(64).nullish(),
  osRelease: z.string().max(64).nullish(),
  kernel: z.string().max(255).nullish(),
  labels: z.record(z.string(), z.string()).default({}),
  groups: z.array(z.string().min(1)).default([]),
  environment: z.string().min(1).max(64).default('production'),
  criticality: Criticality.default(3),
  internetFacing: z.boolean().default(false),
  compensatingControls: z.array(z.string().min(1)).default([]),
  ring: z.string().min(1).max(64).nullish(),
  /** owning team by name (created if it does not exist yet) */
  team: z.string().min(1).max(128).nullish(),
  source: DefinitionSource.default('cli'),
});
export type HostInput = z.input<typeof HostInput>;

export interface HostRecord {
  id: string;
  name: string;
  address: string;
  port: number;
  sshUser: string | null;
  hostKeys: PinnedHostKey[];
  identityFile: string | null;
  osFamily: string | null;
  osRelease: string | null;
  kernel: string | null;
  labels: Record<string, string>;
  groups: string[];
  environment: string;
  criticality: Criticality;
  internetFacing: boolean;
  compensatingControls: string[];
  ring: string | null;
  team: string | null;
  source: DefinitionSource;
  lastInventoryAt: Date | null;
  rebootRequired: boolean;
  /** When the host was retired (left the policy file, `hosts remove`); null while it is managed. */
  retiredAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export const HostFilter = z.strictObject({
  /** only these hosts */
  names: z.array(z.string()).optional(),
  team: z.string().optional(),
  environment: z.string().optional(),
  ring: z.string().optional(),
  group: z.string().optional(),
  source: DefinitionSource.optional(),
  /** every label given must match */
  labels: z.record(z.string(), z.string()).optional(),
  /** Retired hosts too (default: only the hosts patchbot manages). */
  includeRetired: z.boolean().optional(),
});
export type HostFilter = z.infer<typeof HostFilter>;

export const AuditEntry = z.strictObject({
  actor: z.string().min(1).max(256),
  actorDisplay: z.string().max(256).nullish(),
  surface: Surface,
  action: z.string().min(1).max(128),
  subjectType: z.string().min(1).max(64),
  subjectId: z.string().min(1).max(256),
  details: z.record(z.string(), z.unknown()).default({}),
  /** defaults to the database's now() */
  at: z.date().optional(),
});
export type AuditEntry = z.input<typeof AuditEntry>;

export interface AuditRecord {
  /** bigint sequence as a decimal string (ordering: compare as BigInt) */
  id: string;
  at: Date;
  actor: string;
  actorDisplay: string | null;
  surface: Surface;
  action: string;
  subjectType: string;
  subjectId: string;
  details: Record<string, unknown>;
}

export const AuditQuery = z.strictObject({
  subjectType: z.string().optional(),
  subjectId: z.string().optional(),
  actor: z.string().optional(),
  action: z.string().optional(),
  since: z.date().optional(),
  until: z.date().optional(),
  limit: z.number().int().min(1).max(10_000).default(500),
});
export type AuditQuery = z.input<typeof AuditQuery>;
