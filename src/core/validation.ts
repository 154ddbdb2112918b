/** Helpers for reporting validation failures (zod) in one line that names the field and the problem. */
import type { z } from 'zod';
import { truncate } from './errors.js';

/** A zod error as one line: "affected.0.ranges.1.events.0: Invalid input; details: Too big ...". */
export function describeZodError(error: z.ZodError, maxIssues = 3): string {
  const parts = error.issues.slice(0, maxIssues).map((issue) => {
    const path = issue.path.map(String).join('.');
    return path === '' ? issue.message : `${path}: ${issue.message}`;
  });
  const more = error.issues.length > maxIssues ? ` (and ${error.issues.length - maxIssues} more)` : '';
  return truncate(parts.join('; ') + more, 600);
}
