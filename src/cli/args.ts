/**
 * The words of a command line before node:util's parseArgs sees them. parseArgs
 * refuses a value that starts with a dash ("--from -30d": "argument is ambiguous")
 * and reports a missing one in its own terms; here a value that looks like a
 * negative number or a relative date is joined to its option ("--from=-30d"), so
 * that the option's own check judges it, and an option with no value says so.
 */
import type { ParseArgsConfig } from 'node:util';
import { FlowlensError } from '../errors.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function prepareArgs(args: string[], options: Options, command: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const name = /^--([^=]+)$/.exec(arg)?.[1];
    if (!name || options[name]?.type !== 'string') { out.push(arg); continue; }
    const next = args[i + 1];
    if (next !== undefined && /^-\d/.test(next)) { out.push(`${arg}=${next}`); i++; continue; }
    // "-" alone is a value (stdout, stdin), not an option
    if (next === undefined || (next.startsWith('-') && next !== '-')) {
      throw new FlowlensError('FLOW_ERR_USAGE', `${arg} needs a value`, `see flowlens ${command} --help`);
    }
    out.push(arg);
  }
  return out;
}
