/** The words of `flowlens capture --help` and its options (src/cli/capture.ts does the work). */

export const CAPTURE_USAGE = `flowlens capture [--iface IF] [filter] [limits] -w FILE.pcapng|-

Writes the frames that match the filter, both directions, as the counting program sees them
(XDP/TC), into FILE (pcapng by default; -w - writes to stdout: flowlens capture ... -w - | tshark -r -).
While flowlens run is running, the capture goes through its API (admin token) and its counts are
not disturbed; otherwise flowlens attaches to --iface itself for the capture. docs/offline.md.

Filter (all that are given must hold; none: every frame):
  --iface IF             the interface (default: every interface flowlens run counts on; needed standalone)
  --host ADDR            frames from or to this address (IP only: tcpdump's "ip host ADDR")
  --net CIDR             frames from or to an address in this prefix
  --port N               TCP or UDP frames from or to this port
  --proto P              tcp, udp, icmp, icmpv6, gre, ... or a protocol number
  --session ID           both directions of one session: its id from flowlens sessions --format json
                         or /api/sessions (iface|protocol|local|localPort|remote|remotePort)
  --snaplen N            bytes of each frame to keep (default and most: 65535)

Limits (the first one reached ends the capture; without any it runs until Ctrl-C):
  --count N              frames
  --duration DUR         30s, 500ms, 2m
  --max-size SIZE        the file stays within this size: 10MB, 512KiB, bytes

Output:
  -w, --write FILE|-     the capture file, or - for stdout (not a terminal)
  --format pcapng|pcap   pcapng (default: interface names, directions, drop statistics) or classic pcap

Where:
  --api URL              capture through the flowlens at URL (default: the settings' api.listen and
                         api.httpPort, when a flowlens run answers there)
  --token-file FILE      the admin token for the API (or FLOWLENS_TOKEN); a tokens file's first admin line works
  --standalone           do not look for a running flowlens: attach to --iface directly
  --config FILE          settings file (api.*, hook, xdpMode, capture.ringSize)
  --hook xdp|tc, --xdp-mode auto|native|generic, --capture-ring N, --listen ADDR, --http-port N

At the end it says on stderr how many frames it wrote, how many the filter matched and how many
the kernel lost (the ring was full); the pcapng file's statistics block holds the same numbers.`;

export const CAPTURE_OPTIONS = {
  iface: { type: 'string' }, host: { type: 'string' }, net: { type: 'string' }, port: { type: 'string' }, proto: { type: 'string' },
  session: { type: 'string' }, snaplen: { type: 'string' }, count: { type: 'string' }, duration: { type: 'string' },
  'max-size': { type: 'string' }, write: { type: 'string', short: 'w' }, format: { type: 'string' },
  api: { type: 'string' }, 'token-file': { type: 'string' }, standalone: { type: 'boolean' }, config: { type: 'string' },
  hook: { type: 'string' }, 'xdp-mode': { type: 'string' }, 'capture-ring': { type: 'string' }, listen: { type: 'string' }, 'http-port': { type: 'string' },
} as const;
