/**
 * A webhook of the policy file as an EventSink: each event is POSTed as a CloudEvent (structured
 * JSON), signed with the webhook's secret (src/core/events/signature.ts), within the webhook's
 * timeout. 2xx is delivered; timeouts, network errors, 408, 425, 429 and 5xx are worth retrying
 * (a Retry-After is passed on); any other answer (a 3xx is not followed, a 4xx refuses) is a
 * permanent failure that goes to the dead-letter list at once.
 */
import type { Logger } from 'pino';
import type { Webhook } from '../config/policy-webhooks.js';
import { CLOUDEVENTS_CONTENT_TYPE, toCloudEvent, type CloudEvent } from '../core/events/cloudevent.js';
import type { EventSink, PatchbotEvent } from '../core/events/event.js';
import { matchesAnyEventPattern } from '../core/events/patterns.js';
import { SIGNATURE_HEADER, signatureHeader, WEBHOOK_ID_HEADER } from '../core/events/signature.js';
import { PatchbotError, TransientError, truncate } from '../core/errors.js';

export const WEBHOOK_SINK_PREFIX = 'webhook:';

export interface WebhookSinkDeps {
  logger: Logger;
  /** Unix seconds of the signature (default: the system clock). */
  nowS?: () => number;
  fetch?: typeof fetch;
}

const RETRYABLE = new Set([408, 425, 429]);

/** Retry-After in ms: seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export class WebhookSink implements EventSink {
  readonly name: string;
  private readonly fetch: typeof fetch;
  private readonly nowS: () => number;

  constructor(
    readonly webhook: Webhook,
    private readonly secret: string,
    deps: WebhookSinkDeps,
  ) {
    this.name = `${WEBHOOK_SINK_PREFIX}${webhook.name}`;
    this.fetch = deps.fetch ?? fetch;
    this.nowS = deps.nowS ?? (() => Math.floor(Date.now() / 1000));
  }

  accepts(event: PatchbotEvent): boolean {
    if (!matchesAnyEventPattern(this.webhook.events, event.type)) return false;
    if (this.webhook.teams === undefined) return true;
    return event.teamName !== null && this.webhook.teams.includes(event.teamName);
  }

  async deliver(event: PatchbotEvent, signal: AbortSignal): Promise<void> {
    await this.send(toCloudEvent(event), signal);
  }

  /** POSTs one CloudEvent, signed now; resolves with the HTTP status on 2xx. */
  async send(cloudEvent: CloudEvent, signal?: AbortSignal): Promise<number> {
    const body = JSON.stringify(cloudEvent);
    const timestamp = this.nowS();
    const timeout = AbortSignal.timeout(this.webhook.timeout);
    const where = `webhook ${this.webhook.name}`;
    let res: Response;
    try {
      res = await this.fetch(this.webhook.url, {
        method: 'POST',
        headers: {
          'content-type': CLOUDEVENTS_CONTENT_TYPE,
          'user-agent': 'patchbot-webhooks/1',
          [WEBHOOK_ID_HEADER]: cloudEvent.id,
          'webhook-timestamp': String(timestamp),
          [SIGNATURE_HEADER]: signatureHeader([this.secret], timestamp, body),
        },
        body,
        redirect: 'manual',
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (err) {
      const timedOut = timeout.aborted || (err instanceof Error && err.name === 'TimeoutError');
      throw new TransientError(
        timedOut
          ? `${where}: no answer within ${this.webhook.timeout / 1000}s`
          : `${where}: cannot reach ${new URL(this.webhook.url).host} (${causeOf(err)})`,
        { cause: err, details: { webhook: this.webhook.name } },
      );
    }
    let text = '';
    try {
      text = truncate((await res.text()).replace(/\s+/g, ' ').trim(), 200);
    } catch {
      // the status is what counts; the body is only for the error message
    }
    if (res.status >= 200 && res.status < 300) return res.status;
    const answer = `HTTP ${res.status}${text ? `: ${text}` : ''}`;
    if (res.status >= 500 || RETRYABLE.has(res.status)) {
      const after = retryAfterMs(res.headers.get('retry-after'));
      throw new TransientError(`${where} answered ${answer}`, {
        details: {
          webhook: this.webhook.name,
          status: res.status,
          ...(after === undefined ? {} : { retryAfterMs: after }),
        },
      });
    }
    throw new PatchbotError('VALIDATION', `${where} refused the event: ${answer}`, {
      details: { webhook: this.webhook.name, status: res.status },
    });
  }
}

function causeOf(err: unknown): string {
  const c = err instanceof Error && err.cause instanceof Error ? err.cause : err;
  if (c && typeof c === 'object' && 'code' in c && typeof c.code === 'string') return c.code;
  return c instanceof Error ? c.message : String(c);
}
