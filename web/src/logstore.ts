// LogStore keeps a deployment's log compactly for the virtualised log view: one array of
// strings (line seq is at index seq - 1, the log has no gap), one array of step numbers, the
// runs of consecutive lines of one step, and the sequence numbers of error and warning lines.
// It is fed batches (deploymentLogBatches: fromSeq, texts, steps) and never holds a DOM node
// or an object per line, so a 1,000,000-line log costs its strings and 8 bytes a line.

// The line kinds the agent marks with a formatting prefix ("##[error]…"); text keeps it.
export type LineKind = '' | 'error' | 'warning' | 'group' | 'endgroup' | 'section' | 'command' | 'debug';
const knownKinds = new Set<string>(['error', 'warning', 'group', 'endgroup', 'section', 'command', 'debug']);

// lineKind reads a line's formatting prefix: its kind and the text after it (plain output: '').
export function lineKind(text: string): { kind: LineKind; body: string } {
  // '#' '#' '['
  if (text.charCodeAt(0) !== 35 || text.charCodeAt(1) !== 35 || text.charCodeAt(2) !== 91) return { kind: '', body: text };
  const end = text.indexOf(']', 3);
  if (end < 0 || end > 12) return { kind: '', body: text };
  const k = text.slice(3, end).toLowerCase();
  if (!knownKinds.has(k)) return { kind: '', body: text };
  return { kind: k as LineKind, body: text.slice(end + 1) };
}

// A run of consecutive lines of one step (the view splits it further at phase boundaries).
export type StepRun = { step: number; from: number; to: number; errors: number; warnings: number };

export class LogStore {
  texts: string[] = [];
  steps: number[] = [];
  runs: StepRun[] = [];
  errors: number[] = []; // sequence numbers of error lines, in order
  warnings: number[] = [];
  // Search: the sequence numbers of the lines that contain query (case-insensitive), kept up
  // to date as lines arrive.
  private query = '';
  private scanned = 0;
  matches: number[] = [];

  get length(): number {
    return this.texts.length;
  }

  // add appends a batch that starts at fromSeq; lines already held are skipped, and a batch
  // after a gap is refused (false: the caller resubscribes from length + 1).
  add(fromSeq: number, texts: readonly string[], steps: readonly number[]): boolean {
    if (fromSeq > this.texts.length + 1) return false;
    for (let i = this.texts.length + 1 - fromSeq; i < texts.length; i++) {
      const seq = fromSeq + i;
      const text = texts[i];
      const step = steps[i] ?? 0;
      this.texts.push(text);
      this.steps.push(step);
      let run = this.runs[this.runs.length - 1];
      if (!run || run.step !== step) {
        run = { step, from: seq, to: seq, errors: 0, warnings: 0 };
        this.runs.push(run);
      } else run.to = seq;
      if (text.charCodeAt(0) === 35) {
        const { kind } = lineKind(text);
        if (kind === 'error') {
          this.errors.push(seq);
          run.errors++;
        } else if (kind === 'warning') {
          this.warnings.push(seq);
          run.warnings++;
        }
      }
    }
    this.scan();
    return true;
  }

  text(seq: number): string {
    return this.texts[seq - 1] ?? '';
  }

  // search sets the query (matches are recomputed from the first line when it changes).
  search(q: string) {
    q = q.toLowerCase();
    if (q === this.query) return;
    this.query = q;
    this.matches = [];
    this.scanned = 0;
    this.scan();
  }

  private scan() {
    const q = this.query;
    if (!q) {
      this.scanned = this.texts.length;
      return;
    }
    const texts = this.texts;
    for (let i = this.scanned; i < texts.length; i++) {
      if (texts[i].toLowerCase().includes(q)) this.matches.push(i + 1);
    }
    this.scanned = texts.length;
  }
}
