# Runs inside the kernel-host VM (busybox sh, nvme-cli) after the harness's own data test on $NVME_DEV:
# blktests nvme/054's reservation sequence with nvme-cli, its reports between markers for the test to
# compare with the kernel target's; then two hosts, both this kernel: A (the harness's connection,
# $NVME_DEV) holds Write Exclusive with PTPL on, B (a second controller with its own Host NQN and Host
# Identifier) has its reads served and its writes refused, preempts A with abort, and A's writes fail;
# the target restarts (the test does it) and the reservation is still B's.
set -u
fail() { echo "GUEST-FAIL: $*"; exit 1; }
dev=$NVME_DEV
eds=--cdw11=1
nvme resv-report --help 2>&1 | grep -q -- '--eds' && eds=--eds
rep() { nvme resv-report "$dev" "$eds" | grep -v hostid | grep -E "gen|rtype|regctl|regctlext|cntlid|rcsts|rkey"; }
resv() { nvme "resv-$@" >/tmp/resv.out 2>&1 || fail "nvme resv-$*: $(cat /tmp/resv.out)"; }
oncs=$(nvme id-ctrl "$dev" | awk '$1 == "oncs" { print $3 }')
[ $((oncs & 0x20)) -ne 0 ] || fail "ONCS $oncs does not advertise reservations"

echo "054-BEGIN"
echo "Register"
rep
resv register "$dev" --nrkey=4 --rrega=0
rep
echo "Replace"
resv register "$dev" --crkey=4 --nrkey=5 --rrega=2
rep
echo "Unregister"
resv register "$dev" --crkey=5 --rrega=1
rep
echo "Acquire"
resv register "$dev" --nrkey=4 --rrega=0
resv acquire "$dev" --crkey=4 --rtype=1 --racqa=0
rep
echo "Preempt"
resv acquire "$dev" --crkey=4 --prkey=4 --rtype=2 --racqa=1
rep
echo "Release"
resv release "$dev" --crkey=4 --rtype=2 --rrela=0
rep
echo "Clear"
resv acquire "$dev" --crkey=4 --rtype=1 --racqa=0
rep
resv release "$dev" --crkey=4 --rrela=1
echo "054-END"

# Two hosts. A registers key 10 with Persist Through Power Loss on and holds Write Exclusive.
resv register "$dev" --nrkey=10 --rrega=0 --cptpl=3
resv acquire "$dev" --crkey=10 --rtype=1 --racqa=0
printf 'HOLDER-A' | dd of="$dev" bs=512 seek=200 conv=sync oflag=direct 2>/dev/null || fail "the holder's write"
echo "GUEST: A holds Write Exclusive"

# B: this kernel again as another host, a second controller (under native multipath, a second path of
# the same namespace); its commands go through its own controller device, with the namespace named.
# Connected through the kernel's /dev/nvme-fabrics directly: nvme-cli 2.3 (bookworm) takes any second
# connection to the same address and subsystem for a duplicate, whatever its host NQN and -D.
hb=nqn.2026-12.io.tightrope:host-b
exec 3<>/dev/nvme-fabrics || fail "open /dev/nvme-fabrics"
echo "transport=tcp,traddr=$TRADDR,trsvcid=$TRSVCID,nqn=$NQN,hostnqn=$hb,hostid=bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb,reconnect_delay=1" >&3 ||
  fail "host B's connect through /dev/nvme-fabrics"
head -1 <&3 >/tmp/cb.out
exec 3>&-
cb=
i=0
while [ -z "$cb" ] && [ $i -lt 100 ]; do
  for c in /sys/class/nvme/nvme*; do [ "$(cat "$c/hostnqn" 2>/dev/null)" = "$hb" ] && cb=/dev/${c##*/}; done
  sleep 0.1
  i=$((i + 1))
done
[ -n "$cb" ] || fail "no controller of host B"
echo "GUEST: host B is $cb ($(cat /sys/class/nvme/${cb#/dev/}/hostid 2>/dev/null))"
bio() { nvme io-passthru "$cb" --namespace-id=1 "$@"; }
printf 'B' | dd of=/tmp/b.bin bs=512 conv=sync 2>/dev/null
printf 'PREEMPTED-BY-B' | dd of=/tmp/mark.bin bs=512 conv=sync 2>/dev/null
got=$(bio --opcode=0x02 --data-len=512 --read --cdw10=200 --raw-binary 2>/dev/null | head -c 8)
[ "$got" = HOLDER-A ] || fail "host B's read of the holder's data: '$got'"
echo "GUEST: B's read is served"
if bio --opcode=0x01 --data-len=512 --write --input-file=/tmp/b.bin --cdw10=0 >/tmp/bw.out 2>&1; then
  fail "host B's write succeeded under A's Write Exclusive"
fi
grep -qi "conflict" /tmp/bw.out || fail "host B's write failed otherwise: $(cat /tmp/bw.out)"
echo "GUEST: B's write refused: $(grep -i -m1 conflict /tmp/bw.out)"
resv register "$cb" --namespace-id=1 --nrkey=11 --rrega=0
if bio --opcode=0x01 --data-len=512 --write --input-file=/tmp/b.bin --cdw10=0 >/tmp/bw.out 2>&1; then
  fail "host B's write succeeded, registered, under A's Write Exclusive"
fi
grep -qi "conflict" /tmp/bw.out || fail "host B's registered write failed otherwise: $(cat /tmp/bw.out)"
echo "GUEST: B's write refused, registered"
resv acquire "$cb" --namespace-id=1 --crkey=11 --prkey=10 --rtype=1 --racqa=2
echo "GUEST: B preempted A with abort"
bio --opcode=0x01 --data-len=512 --write --input-file=/tmp/mark.bin --cdw10=100 >/tmp/bw.out 2>&1 ||
  fail "host B's write as the holder: $(cat /tmp/bw.out)"

# A, fenced: its writes fail, its reads are served.
if printf 'LATE-A' | dd of="$dev" bs=512 seek=4096 conv=sync oflag=direct 2>/tmp/dd.err; then
  fail "a write after the preemption succeeded"
fi
echo "GUEST: a write after the preemption failed: $(head -1 /tmp/dd.err)"
dd if="$dev" bs=512 skip=100 count=1 iflag=direct 2>/dev/null | grep -q PREEMPTED-BY-B ||
  fail "reads under B's Write Exclusive fail"
echo "GUEST: reads still served"

# The target restarts (the test kills it and starts it again on the same port and state directory);
# both controllers reconnect by themselves, and PTPL kept the registrations and the reservation.
n0=$(dmesg | grep -c "Successfully reconnected")
echo "GUEST: restart the target now"
i=0
until [ "$(dmesg | grep -c "Successfully reconnected")" -ge $((n0 + 2)) ]; do
  i=$((i + 1))
  [ $i -lt 300 ] || fail "the two controllers did not reconnect after the restart: $(cat /sys/class/nvme/*/state | tr '\n' ' ')"
  sleep 0.2
done
echo "GUEST: both controllers reconnected"
nvme resv-report "$dev" "$eds" >/tmp/r.out 2>&1 || fail "resv-report after the restart: $(cat /tmp/r.out)"
grep -E "rtype|regctl |rkey" /tmp/r.out | sed 's/^/GUEST-REPORT: /'
if printf 'LATE-A' | dd of="$dev" bs=512 seek=4096 conv=sync oflag=direct 2>/tmp/dd.err; then
  fail "a write of A after the restart succeeded"
fi
echo "GUEST: after the restart A's write still fails: $(head -1 /tmp/dd.err)"
echo "GUEST-OK"
