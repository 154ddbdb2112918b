/** Maps ssh2 / socket errors from a connection attempt to PatchbotError codes with a clear message. */
import { PatchbotError } from '../../core/errors.js';

export interface ConnectionTarget {
  host: string;
  address: string;
  port: number;
}

const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused (is sshd running on that port?)',
  ECONNRESET: 'connection reset by the host',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'no route to host',
  ENETUNREACH: 'network unreachable',
  EHOSTDOWN: 'host is down',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed (temporary)',
  EPIPE: 'connection closed by the host',
  ECONNABORTED: 'connection aborted',
};

interface Ssh2LikeError {
  code?: unknown;
  level?: unknown;
  message?: unknown;
  name?: unknown;
}

export function mapConnectError(
  err: unknown,
  where: ConnectionTarget,
  connectTimeoutMs: number,
): PatchbotError {
  if (err instanceof PatchbotError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as Ssh2LikeError;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const level = typeof e.level === 'string' ? e.level : undefined;
  const message = typeof e.message === 'string' ? e.message : String(err);
  const at = `${where.host} (${where.address}:${where.port})`;
  const details = { ...where, code: code ?? null, level: level ?? null };

  if (level === 'client-authentication' || level === 'agent') {
    return new PatchbotError(
      'HOST_AUTH_FAILED',
      `SSH authentication to ${at} failed: the host refused the configured key or agent identities`,
      { cause: err, details },
    );
  }
  if (level === 'client-timeout' || code === 'ETIMEDOUT') {
    return new PatchbotError(
      'HOST_UNREACHABLE',
      `cannot reach ${at}: no SSH handshake within ${connectTimeoutMs} ms`,
      {
        cause: err,
        details,
      },
    );
  }
  if (code !== undefined && SOCKET_REASONS[code] !== undefined) {
    return new PatchbotError('HOST_UNREACHABLE', `cannot reach ${at}: ${SOCKET_REASONS[code]}`, {
      cause: err,
      details,
    });
  }
  if (/privateKey|private key|passphrase|Cannot parse/i.test(message)) {
    return new PatchbotError('CONFIG_INVALID', `SSH key for ${at} cannot be used: ${message}`, {
      cause: err,
      details,
    });
  }
  if (level === 'client-socket' || level === 'client-dns' || level === 'protocol' || level === 'handshake') {
    return new PatchbotError('HOST_UNREACHABLE', `cannot reach ${at}: ${message}`, { cause: err, details });
  }
  // node-ssh's "No response from server" when the socket closes before the handshake ends.
  if (code === 'ETIMEDOUT' || /No response from server/.test(message)) {
    return new PatchbotError(
      'HOST_UNREACHABLE',
      `cannot reach ${at}: the connection closed before SSH was ready`,
      {
        cause: err,
        details,
      },
    );
  }
  return new PatchbotError('HOST_UNREACHABLE', `SSH connection to ${at} failed: ${message}`, {
    cause: err,
    details,
  });
}
