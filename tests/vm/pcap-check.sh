#!/usr/bin/env bash
# tests/vm/pcap-check.sh: decode an NVMe/TCP capture with tshark (Wireshark's nvme-tcp dissector,
# header and data digests verified) and judge it: TCP connections, PDUs per type, NVMe commands,
# non-zero completion statuses, digests good/bad, malformed packets, error-level expert infos.
#
# usage: tests/vm/pcap-check.sh PCAP PORT      (PORT: the TCP port of the NVMe/TCP traffic)
# Exit: 0 clean; 1 malformed packets, error-level expert infos, a bad digest or no NVMe/TCP PDU; 2 usage.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
. "$(dirname "$0")/common.sh"

if (($# != 2)) || [[ ! -f $1 ]] || ! valid_port "$2"; then
  echo "usage: ${0##*/} PCAP PORT" >&2
  exit 2
fi
pcap=$1 port=$2
need tshark tshark

ts() { tshark -r "$pcap" -d "tcp.port==$port,nvme-tcp" -o nvme-tcp.check_hdgst:TRUE -o nvme-tcp.check_ddgst:TRUE "$@" 2>/dev/null; }
count() { ts -Y "$1" -T fields -e frame.number | wc -l; }

frames=$(count frame)
conns=$(count 'tcp.flags.syn == 1 && tcp.flags.ack == 0')
malformed=$(count _ws.malformed)
errors=$(ts -q -z expert,error | sed -n 's/^Errors (\([0-9]*\)).*/\1/p' | head -n 1)
errors=${errors:-0}
# Wireshark's checksum status per digest: 1 good, 0 bad (2 unverified).
read -r good bad < <(ts -Y 'nvme-tcp.hdgst || nvme-tcp.ddgst' -T fields -e nvme-tcp.hdgst.status -e nvme-tcp.ddgst.status |
  tr ',\t' '\n' | awk '$1 == 1 { g++ } $1 == 0 { b++ } END { print g + 0, b + 0 }')
# PDU types; a frame holding several PDUs lists its types comma-separated.
pdus=$(ts -Y nvme-tcp -T fields -e nvme-tcp.type | tr ',' '\n' | awk '
  BEGIN { split("ICReq ICResp H2CTermReq C2HTermReq CapsuleCommand CapsuleResponse H2CData C2HData - R2T", n, " ") }
  NF { c[$1]++; total++ }
  END { for (t in c) printf "  %-16s %7d\n", (t <= 9 ? n[t + 1] : "type " t), c[t]; printf "  %-16s %7d\n", "total", total + 0 }')
total=$(awk '$1 == "total" { print $2 }' <<<"$pdus")

echo "pcap-check: $pcap (tcp port $port): $frames frames, $conns TCP connections"
echo "PDUs by type:"
sort <<<"$pdus"
echo "NVMe commands:"
ts -Y 'nvme-tcp.type == 4' -T fields -e _ws.col.Info | sed 's/| /\n/g' | awk '/^NVMe(OF)? / && !/ for /' |
  sort | uniq -c | awk '{ n = $1; $1 = ""; printf "  %-56s %6d\n", substr($0, 2), n }'
echo "completions with non-zero status (status field):"
ts -Y 'nvme.cqe.status' -T fields -e nvme.cqe.status | tr ',' '\n' | awk 'NF && $1 != "0x0000" && $1 != "0" { c[$1]++ }
  END { for (s in c) printf "  %-10s %6d\n", s, c[s]; if (length(c) == 0) print "  none" }'
echo "digests verified: $good good, $bad bad"
echo "malformed packets: $malformed; error-level expert infos: $errors"
rc=0
((total > 0)) || { echo "FAIL: no NVMe/TCP PDU decoded on port $port"; rc=1; }
((bad == 0)) || { echo "FAIL: $bad digests do not match"; rc=1; }
if ((malformed > 0 || errors > 0)); then
  echo "FAIL: tshark reports problems:"
  ts -Y '_ws.malformed || _ws.expert.severity == error' | head -n 20
  rc=1
fi
((rc)) || echo "pcap-check: OK"
exit "$rc"
