/**
 * What the user reads when the addon's load or attach fails: explainKernelError
 * picks the code and the advice from the errno first and the text second. A
 * load that signals interrupted (EAGAIN, EINTR) is never called a verifier
 * rejection, even when its message carries the verifier log libbpf printed.
 */
import t from 'tap';
import { explainKernelError } from '../../src/system/preflight.js';

/** An addon error as native/src/addon.cc builds it: message, code, errno. */
function addonError(message: string, errno: number, code = 'FLOW_ERR_KERNEL'): Error {
  return Object.assign(new Error(message), { code, errno });
}

// what libbpf printed for the load that node --cpu-prof interrupted (issue 11), log included
const INTERRUPTED_WITH_LOG = [
  'cannot load the BPF programs (Resource temporarily unavailable).',
  "libbpf: prog 'xdp_flow': BPF program load failed: Resource temporarily unavailable",
  "libbpf: prog 'xdp_flow': -- BEGIN PROG LOAD LOG --",
  '0: R1=ctx() R10=fp0',
  '; int xdp_flow(struct xdp_md *ctx)',
  "libbpf: prog 'xdp_flow': -- END PROG LOAD LOG --",
  "libbpf: prog 'xdp_flow': failed to load: -11",
].join('\n');
// what native/src/loader.c says when every retry was interrupted
const INTERRUPTED_EVERY_TRY = 'cannot load the BPF programs: a signal interrupted the kernel on each of 10 tries ' +
  '(Resource temporarily unavailable); nothing was rejected, try again';

t.test('EAGAIN: interrupted by signals, not a verifier rejection, with what to do', async (t) => {
  for (const [what, message] of [['the retried load', INTERRUPTED_EVERY_TRY], ['a message with the verifier log', INTERRUPTED_WITH_LOG]]) {
    const e = explainKernelError(addonError(message, 11), 'cannot load the flow counter');
    t.equal(e.code, 'FLOW_ERR_INTERRUPTED', `${what}: its own code`);
    t.equal(e.message, `cannot load the flow counter (interrupted by signals, not rejected by the verifier): ${message.split('\n')[0]}`,
      `${what}: says what happened, and no log`);
    t.notMatch(e.format(), /verifier rejected|please report/, `${what}: no call to report a rejection`);
    t.match(e.hint, /run it again; if a profiler or a timer sends this process signals at a high rate \(node --cpu-prof, perf record\)/,
      `${what}: says what to do`);
  }
});

t.test('EINTR is the same interruption', async (t) => {
  const e = explainKernelError(addonError(INTERRUPTED_WITH_LOG.replace(/Resource temporarily unavailable/g, 'Interrupted system call'), 4), 'load');
  t.equal(e.code, 'FLOW_ERR_INTERRUPTED');
  t.match(e.message, /^load \(interrupted by signals, not rejected by the verifier\): /);
});

t.test('a real rejection (EACCES, EINVAL with the log) is still the verifier', async (t) => {
  for (const errno of [13, 22]) {
    const message = INTERRUPTED_WITH_LOG.replace(/Resource temporarily unavailable/g, 'Permission denied').replace('-11', `-${errno}`);
    const e = explainKernelError(addonError(message, errno), 'cannot load the flow counter');
    t.equal(e.code, 'FLOW_ERR_VERIFIER', `errno ${errno}`);
    t.match(e.message, /the kernel's verifier rejected the program:\n[^]*BEGIN PROG LOAD LOG/, `errno ${errno}: with the log`);
  }
});

t.test('the other errnos keep their codes', async (t) => {
  t.equal(explainKernelError(addonError('cannot load the BPF programs (permission denied).', 1, 'FLOW_ERR_PERMISSION'), 'load').code, 'FLOW_ERR_PERMISSION');
  t.equal(explainKernelError(addonError('no bpf()', 38), 'load').code, 'FLOW_ERR_NO_BPF');
  t.equal(explainKernelError(addonError('busy', 16, 'FLOW_ERR_XDP_BUSY'), 'cannot attach').code, 'FLOW_ERR_XDP_BUSY');
  t.equal(explainKernelError(addonError('cannot map the flow table into memory: Cannot allocate memory', 12), 'load').code, 'FLOW_ERR_KERNEL');
});
