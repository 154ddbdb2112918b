/**
 * A webhook receiver on loopback, as a team would run one: it checks each delivery's signature with
 * the verification code of docs/integrations.md (copied here, not imported from patchbot) and
 * records what it got. Its behaviour is switched by the test: `down` (nothing listens on the port),
 * `slow` (answers 200 after `slowMs`, past patchbot's timeout), `error` (500), `ok` (204).
 */
import crypto from 'node:crypto';
import { createServer, type Server } from 'node:http';

// ---- docs/integrations.md, "Verifying a delivery" -----------------------------------------------
function verifyPatchbotSignature(
  rawBody: string,
  header: string | undefined,
  secret: string,
  toleranceSeconds = 300,
) {
  const pairs = (header ?? '').split(',').map((p) => p.trim().split('='));
  const t = Number(pairs.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${t}.${rawBody}`).digest();
  return pairs.some(([k, v]) => {
    if (k !== 'v1' || !v) return false;
    const given = Buffer.from(v, 'hex');
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}
// -------------------------------------------------------------------------------------------------

export type ReceiverMode = 'down' | 'slow' | 'error' | 'ok';

export interface Received {
  id: string | undefined;
  mode: ReceiverMode;
  verified: boolean;
  contentType: string | undefined;
  body: Record<string, unknown>;
  at: number;
}

export class WebhookReceiver {
  readonly received: Received[] = [];
  private server: Server | undefined;
  mode: ReceiverMode = 'down';
  slowMs = 2_500;

  constructor(
    readonly port: number,
    private readonly secret: string,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hooks/patchbot`;
  }

  /** Deliveries answered with success (what the receiver's side counts as processed). */
  accepted(): Received[] {
    return this.received.filter((r) => r.mode === 'ok' || r.mode === 'slow');
  }

  async setMode(mode: ReceiverMode): Promise<void> {
    if (mode === 'down') await this.close();
    else if (!this.server) await this.listen();
    this.mode = mode;
  }

  private listen(): Promise<void> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const mode = this.mode;
        const header = req.headers['patchbot-signature'];
        let body: Record<string, unknown> = {};
        try {
          body = JSON.parse(raw) as Record<string, unknown>;
        } catch {
          // recorded as unverifiable below
        }
        this.received.push({
          id: typeof req.headers['webhook-id'] === 'string' ? req.headers['webhook-id'] : undefined,
          mode,
          verified: verifyPatchbotSignature(
            raw,
            typeof header === 'string' ? header : undefined,
            this.secret,
          ),
          contentType: req.headers['content-type'],
          body,
          at: Date.now(),
        });
        if (mode === 'error') {
          res.writeHead(500, { 'content-type': 'text/plain' }).end('receiver broken');
        } else if (mode === 'slow') {
          setTimeout(() => res.writeHead(200).end('ok'), this.slowMs).unref();
        } else {
          res.writeHead(204).end();
        }
      });
    });
    this.server = server;
    return new Promise((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
