/**
 * A chosen range of days: a quick range (which follows the calendar: "today"
 * is still today after midnight) or dates typed by hand. The History and
 * Alerts views each hold one and show it with components/RangePicker.svelte.
 */
import { matchQuickRange, quickRange, spanProblem, type DaySpan, type QuickRange } from './ranges';

export class RangeChoice {
  /** The quick range, or null when the typed dates match none. */
  chosen = $state<QuickRange | null>(null);
  /** What the date inputs show (kept equal to the quick range when one is picked). */
  typed = $state<DaySpan>({ from: '', to: '' });

  constructor(initial: QuickRange, private readonly today: () => string) {
    this.chosen = initial;
    this.typed = quickRange(initial, today());
  }

  /** The days shown: reactive, as it reads the state above. */
  get span(): DaySpan {
    return this.chosen ? quickRange(this.chosen, this.today()) : this.typed;
  }

  pick(q: QuickRange): void {
    this.chosen = q;
    this.typed = quickRange(q, this.today());
  }

  /** After a date input changed: a quick range again if the dates are one. */
  typedChange(): void {
    this.chosen = spanProblem(this.typed) ? null : matchQuickRange(this.typed, this.today());
  }
}
