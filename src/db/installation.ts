/**
 * This installation's identity: a random id stored in its database (table "Installation", one
 * row), written by the first process that asks for it. It names the installation, not the way to
 * reach its database: every host name, port or URL spelling of one database gives the same id, and
 * two databases never share one (a database restored from a copy of another keeps the copy's id:
 * docs/configuration.md says to set PATCHBOT_QUEUE_PREFIX when both run beside each other).
 */
import { randomUUID } from 'node:crypto';
import type { Database } from './client.js';

/** The installation's id (32 hex digits), written on first use; concurrent first uses agree. */
export async function installationId(db: Database): Promise<string> {
  // the primary key decides between concurrent first uses: one insert wins, all read its id
  await db.prisma.$executeRawUnsafe(
    'INSERT INTO "Installation" ("id", "installId") VALUES (1, $1) ON CONFLICT ("id") DO NOTHING',
    randomUUID().replaceAll('-', ''),
  );
  const rows = await db.prisma.$queryRawUnsafe<{ installId: string }[]>(
    'SELECT "installId" FROM "Installation" WHERE "id" = 1',
  );
  const id = rows[0]?.installId;
  if (id === undefined) throw new Error('the installation row could not be read back');
  return id;
}
