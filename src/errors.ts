/**
 * The catalogue of errors a user can meet. Each has a code, says what is wrong,
 * and says what to do; the CLI prints them without a stack trace.
 */
/** Every code, the addon's included (test/unit/error-codes-cover-the-addon.test.ts checks it against native/src). */
export const ERROR_CODES = [
  'FLOW_ERR_USAGE', 'FLOW_ERR_NOT_BUILT', 'FLOW_ERR_PERMISSION', 'FLOW_ERR_NO_BTF', 'FLOW_ERR_NO_BPF', 'FLOW_ERR_VERIFIER',
  // a BPF load that signals interrupted on every retry (not a verifier rejection)
  'FLOW_ERR_INTERRUPTED',
  'FLOW_ERR_UNKNOWN_INTERFACE', 'FLOW_ERR_ALREADY_ATTACHED', 'FLOW_ERR_XDP_BUSY', 'FLOW_ERR_LAYOUT', 'FLOW_ERR_KERNEL',
  'FLOW_ERR_DEMO', 'FLOW_ERR_STORE', 'FLOW_ERR_GEO',
  // flowlens analyze: a capture file it cannot read (corrupt header, unknown link type, bad record)
  'FLOW_ERR_CAPTURE_FILE',
  // flowlens capture: every capture slot is in use; the output cannot be written
  'FLOW_ERR_CAPTURE_BUSY', 'FLOW_ERR_CAPTURE_OUTPUT',
  // thrown by the addon when it is misused: a closed collector, detach of what is not attached,
  // a second drain while one runs, a BPF object that does not open
  'FLOW_ERR_CLOSED', 'FLOW_ERR_NOT_ATTACHED', 'FLOW_ERR_DRAIN_BUSY', 'FLOW_ERR_OBJECT', 'FLOW_ERR_UNSUPPORTED',
] as const;
export type FlowlensErrorCode = (typeof ERROR_CODES)[number];

export class FlowlensError extends Error {
  constructor(
    readonly code: FlowlensErrorCode,
    message: string,
    /** What the user can do about it. */
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'FlowlensError';
  }

  /** The text the CLI prints. */
  format(): string {
    return `flowlens: ${this.message}${this.hint ? `\n  → ${this.hint}` : ''}`;
  }
}
