/**
 * The dialogs a decision may need, as data: which one to open for which change, and what comes
 * back when a person submits it. The platform adapter draws them (Slack modal, Teams task module).
 */
export type ModalRequest =
  | {
      kind: 'request';
      changeId: string;
      title: string;
      /** Offer the emergency lane (the policy turns it on and the change meets its conditions). */
      emergency: boolean;
    }
  | { kind: 'reject'; changeId: string; title: string }
  | {
      kind: 'defer';
      changeId: string;
      title: string;
      /** Latest date the picker allows (YYYY-MM-DD). */ maxDate?: string;
    }
  | {
      kind: 'accept_risk';
      changeId: string;
      title: string;
      /** Pre-selected expiry (YYYY-MM-DD). */
      defaultExpiry: string;
      /** Latest expiry the policy allows (YYYY-MM-DD). */
      maxExpiry: string;
    };

export type DeferChoice = { kind: 'days'; days: 1 | 7 } | { kind: 'date'; date: string };

/** What a submitted dialog says, validated. `message` is the campaign message the dialog was opened from. */
export type ModalSubmission =
  | { kind: 'request'; changeId: string; emergency: boolean; reason?: string }
  | { kind: 'reject'; changeId: string; reason: string }
  | { kind: 'defer'; changeId: string; defer: DeferChoice; reason?: string }
  | { kind: 'accept_risk'; changeId: string; reason: string; expires: string };

/** Field-level problems to show in the dialog (field name -> message); empty = accepted. */
export type FieldErrors = Partial<Record<'reason' | 'expires' | 'defer' | 'date' | 'emergency', string>>;
