/**
 * Progress of long CLI work (feeds sync, inventory collect, scan), always on stderr so stdout
 * stays the command's output:
 * - a terminal gets one cli-progress bar per task (a bar with a total, a counter without one);
 * - anything else (a log file, CI) gets plain lines, at most one per interval per task plus one
 *   when a task is done: "feeds: debian-tracker 12,000/45,000 records";
 * - `--quiet` gets nothing.
 */
import type { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import type { CliIo } from './io.js';

/**
 * One step of progress. Loose on purpose, so a use case's own progress events (which name their
 * task `source` or carry extra fields) can be passed straight through.
 */
export interface ProgressUpdate {
  /** What is being worked on ("debian-tracker"); defaults to `source`, else the whole job. */
  task?: string;
  source?: string;
  done: number;
  /** Unknown totals show a counter. */
  total?: number;
  /** "records", "files", "hosts"... (default "items"). */
  unit?: string;
}

/** The methods may be passed around unbound (`onProgress: progress.update`). */
export interface ProgressReporter {
  update: (progress: ProgressUpdate) => void;
  /** The task is finished; `note` is added to its last line ("3 rejected"). */
  finish: (task: string, note?: string) => void;
  /** A message that must not be overwritten by the bars (warnings). */
  log: (line: string) => void;
  /** Ends all output; call once, also after a failure. */
  stop: () => void;
}

export interface ProgressSettings {
  /** No output at all (`--quiet`). */
  quiet: boolean;
  /** Prefix of every line ("feeds"). */
  label: string;
  /** Smallest gap between two plain lines of one task (default 5 s). */
  intervalMs?: number;
  now?: () => number;
}

export interface ProgressOptions extends ProgressSettings {
  stream: Writable;
  /** Whether `stream` is a terminal (bars) or not (plain lines). */
  tty: boolean;
}

const numbers = new Intl.NumberFormat('en-US');

/** "12,000/45,000 records", or "12,000 records" when the total is unknown. */
export function formatCount(done: number, total: number | undefined, unit: string): string {
  const count =
    total === undefined ? numbers.format(done) : `${numbers.format(done)}/${numbers.format(total)}`;
  return `${count} ${unit}`;
}

/** The reporter for a command, on its stderr: bars when stderr is a terminal, lines otherwise. */
export function createProgress(io: CliIo, settings: ProgressSettings): ProgressReporter {
  const tty = (io.stderr as Partial<NodeJS.WriteStream>).isTTY === true;
  return createProgressOn({ stream: io.stderr, tty, ...settings });
}

/** The reporter on a given stream. */
export function createProgressOn(options: ProgressOptions): ProgressReporter {
  if (options.quiet) return silentProgress;
  const impl = options.tty ? new BarProgress(options) : new LineProgress(options);
  return {
    update: (p) => impl.update(p),
    finish: (task, note) => impl.finish(task, note),
    log: (line) => impl.log(line),
    stop: () => impl.stop(),
  };
}

interface Step {
  task: string;
  done: number;
  total?: number;
  unit: string;
}

function normalise(p: ProgressUpdate): Step {
  return { task: p.task ?? p.source ?? '', done: p.done, total: p.total, unit: p.unit ?? 'items' };
}

function title(label: string, task: string): string {
  return task === '' ? `${label}:` : `${label}: ${task}`;
}

const silentProgress: ProgressReporter = {
  update: () => undefined,
  finish: () => undefined,
  log: () => undefined,
  stop: () => undefined,
};

interface TaskState {
  last: Step;
  printedAt: number | undefined;
}

class LineProgress implements ProgressReporter {
  private readonly tasks = new Map<string, TaskState>();
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(private readonly options: ProgressOptions) {
    this.intervalMs = options.intervalMs ?? 5_000;
    this.now = options.now ?? Date.now;
  }

  update(update: ProgressUpdate): void {
    const progress = normalise(update);
    const state = this.tasks.get(progress.task) ?? { last: progress, printedAt: undefined };
    state.last = progress;
    this.tasks.set(progress.task, state);
    const now = this.now();
    // the first update only starts the clock: a task that ends quickly prints one line, when done
    if (state.printedAt === undefined) {
      state.printedAt = now;
      return;
    }
    if (now - state.printedAt >= this.intervalMs) {
      state.printedAt = now;
      this.line(progress);
    }
  }

  finish(task: string, note?: string): void {
    const state = this.tasks.get(task);
    const last = state?.last;
    const count = last === undefined ? '' : ` ${formatCount(last.done, last.total, last.unit)}`;
    this.write(`${title(this.options.label, task)}${count} done${note ? ` (${note})` : ''}`);
    this.tasks.delete(task);
  }

  log(line: string): void {
    this.write(line);
  }

  stop(): void {
    this.tasks.clear();
  }

  private line(p: Step): void {
    this.write(`${title(this.options.label, p.task)} ${formatCount(p.done, p.total, p.unit)}`);
  }

  private write(line: string): void {
    this.options.stream.write(`${line}\n`);
  }
}

interface BarPayload {
  task: string;
  unit: string;
  total?: number;
  note?: string;
}

const BAR_WIDTH = 24;

class BarProgress implements ProgressReporter {
  private multi: cliProgress.MultiBar | undefined;
  private readonly bars = new Map<string, { bar: cliProgress.SingleBar; payload: BarPayload }>();

  constructor(private readonly options: ProgressOptions) {}

  private ensure(): cliProgress.MultiBar {
    this.multi ??= new cliProgress.MultiBar({
      stream: this.options.stream,
      format: (_opts, params, payload: BarPayload) => this.render(params, payload),
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 8,
    });
    return this.multi;
  }

  private render(params: cliProgress.Params, payload: BarPayload): string {
    const head = title(this.options.label, payload.task);
    const tail = payload.note ? ` (${payload.note})` : '';
    if (payload.total === undefined || payload.total <= 0)
      return `${head} ${formatCount(params.value, undefined, payload.unit)}${tail}`;
    const filled = Math.max(0, Math.min(BAR_WIDTH, Math.round((params.value / payload.total) * BAR_WIDTH)));
    const bar = '\u2588'.repeat(filled) + '\u2591'.repeat(BAR_WIDTH - filled);
    return `${head} ${bar} ${formatCount(params.value, payload.total, payload.unit)}${tail}`;
  }

  update(update: ProgressUpdate): void {
    const progress = normalise(update);
    const entry = this.bars.get(progress.task);
    const payload: BarPayload = { task: progress.task, unit: progress.unit, total: progress.total };
    if (entry === undefined) {
      const bar = this.ensure().create(progress.total ?? 0, progress.done, payload);
      this.bars.set(progress.task, { bar, payload });
      return;
    }
    entry.payload = payload;
    if (progress.total !== undefined) entry.bar.setTotal(progress.total);
    entry.bar.update(progress.done, payload);
  }

  finish(task: string, note?: string): void {
    const entry = this.bars.get(task);
    if (entry === undefined) {
      this.log(`${title(this.options.label, task)} done${note ? ` (${note})` : ''}`);
      return;
    }
    entry.payload = { ...entry.payload, note: note ? `done, ${note}` : 'done' };
    entry.bar.update(entry.payload);
    entry.bar.stop();
  }

  log(line: string): void {
    if (this.multi === undefined) this.options.stream.write(`${line}\n`);
    else this.multi.log(`${line}\n`);
  }

  stop(): void {
    this.multi?.stop();
    this.multi = undefined;
    this.bars.clear();
  }
}
