-- A host whose install or rollback result was not seen: its real state is read again until known.
-- (On its own: a new enum value cannot be used in the transaction that adds it.)
ALTER TYPE "HostRunState" ADD VALUE 'unknown';
