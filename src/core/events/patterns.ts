/**
 * Event type filters of sinks: an exact type ("change.approved"), every type of a group
 * ("deployment.*") or everything ("*"). Pure; validated where the policy file is read.
 */
import { PATCHBOT_EVENT_TYPES, type PatchbotEventType } from './event.js';

/** "*", "<group>.*" or an exact event type. */
export const EVENT_PATTERN = /^(\*|[a-z]+\.\*|[a-z]+\.[a-z_]+)$/;

export const EVENT_GROUPS = [...new Set(PATCHBOT_EVENT_TYPES.map((t) => t.split('.')[0]))];

/** Why `pattern` matches no event type, or undefined when it does match some. */
export function eventPatternProblem(pattern: string): string | undefined {
  if (!EVENT_PATTERN.test(pattern) || eventTypesOf(pattern).length === 0) {
    return `expected an event type (${PATCHBOT_EVENT_TYPES.join(', ')}), a group with a wildcard (${EVENT_GROUPS.map((g) => `${g}.*`).join(', ')}) or "*"`;
  }
  return undefined;
}

export function matchesEventPattern(pattern: string, type: PatchbotEventType): boolean {
  if (pattern === '*') return true;
  if (pattern.endsWith('.*')) return type.startsWith(pattern.slice(0, -1));
  return pattern === type;
}

/** The event types a pattern stands for. */
export function eventTypesOf(pattern: string): PatchbotEventType[] {
  return PATCHBOT_EVENT_TYPES.filter((t) => matchesEventPattern(pattern, t));
}

export function matchesAnyEventPattern(patterns: readonly string[], type: PatchbotEventType): boolean {
  return patterns.some((p) => matchesEventPattern(p, type));
}

export function isPatchbotEventType(s: string): s is PatchbotEventType {
  return (PATCHBOT_EVENT_TYPES as readonly string[]).includes(s);
}
