/**
 * Metric values as people read them, the same in Slack, Teams and the terminal: ratios as
 * percentages with one decimal ("66.7%"), changes of ratios in percentage points ("+5.0 pp"),
 * durations in days with one decimal ("4.2 d"), counts with thousands separators. "n/a" when a
 * value cannot be computed (nothing to divide by).
 */
import type { Headline, HeadlineUnit } from './definitions.js';

export const NOT_AVAILABLE = 'n/a';

export function formatPercent(x: number | null): string {
  return x === null ? NOT_AVAILABLE : `${(x * 100).toFixed(1)}%`;
}

export function formatDays(x: number | null): string {
  return x === null ? NOT_AVAILABLE : `${x.toFixed(1)} d`;
}

export function formatCount(x: number | null): string {
  return x === null ? NOT_AVAILABLE : x.toLocaleString('en');
}

export function formatValue(value: number | null, unit: HeadlineUnit): string {
  switch (unit) {
    case 'ratio':
      return formatPercent(value);
    case 'days':
      return formatDays(value);
    case 'count':
      return formatCount(value);
  }
}

/** "+5.0 pp", "-3", "+0.5 d", "no change"; undefined when there is nothing to compare with. */
export function formatChange(h: Pick<Headline, 'change' | 'unit'>): string | undefined {
  if (h.change === undefined) return undefined;
  const d = h.change;
  const sign = d > 0 ? '+' : d < 0 ? '-' : '';
  const abs = Math.abs(d);
  switch (h.unit) {
    case 'ratio': {
      const pp = (abs * 100).toFixed(1);
      return pp === '0.0' ? 'no change' : `${sign}${pp} pp`;
    }
    case 'days': {
      const days = abs.toFixed(1);
      return days === '0.0' ? 'no change' : `${sign}${days} d`;
    }
    case 'count':
      return abs === 0 ? 'no change' : `${sign}${abs.toLocaleString('en')}`;
  }
}

/** Whether a change is good news, bad news, or neither (no change, or nothing to compare with). */
export function changeTone(h: Pick<Headline, 'change' | 'better' | 'unit'>): 'better' | 'worse' | 'same' {
  const text = formatChange(h);
  if (h.change === undefined || text === 'no change') return 'same';
  return h.change > 0 === (h.better === 'up') ? 'better' : 'worse';
}
