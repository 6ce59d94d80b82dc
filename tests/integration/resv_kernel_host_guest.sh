# Runs inside the kernel-host VM (busybox sh, nvme-cli) after the harness's own data test on $NVME_DEV:
# blktests nvme/054's reservation sequence with nvme-cli, its reports between markers for the test to
# compare with the kernel target's; then this host holds Write Exclusive while another host (the test's
# raw client, another Host Identifier) is refused writes, until that host preempts it with abort.
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

# Two hosts. This one registers key 10 and holds Write Exclusive; the test's host B sees its writes
# refused, its reads served, then preempts us with abort and writes a marker at LBA 100.
resv register "$dev" --nrkey=10 --rrega=0
resv acquire "$dev" --crkey=10 --rtype=1 --racqa=0
printf 'HOLDER-A' | dd of="$dev" bs=512 seek=200 conv=sync oflag=direct 2>/dev/null || fail "the holder's write"
echo "GUEST: A holds Write Exclusive"
i=0
until dd if="$dev" bs=512 skip=100 count=1 iflag=direct 2>/dev/null | grep -q PREEMPTED-BY-B; do
  i=$((i + 1)); [ $i -lt 600 ] || fail "host B never preempted us"; sleep 0.2
done
echo "GUEST: B's marker seen"
if printf 'LATE-A' | dd of="$dev" bs=512 seek=4096 conv=sync oflag=direct 2>/tmp/dd.err; then
  fail "a write after the preemption succeeded"
fi
echo "GUEST: a write after the preemption failed: $(tail -1 /tmp/dd.err)"
dd if="$dev" bs=512 skip=100 count=1 iflag=direct 2>/dev/null | grep -q PREEMPTED-BY-B ||
  fail "reads under B's Write Exclusive fail"
echo "GUEST: reads still served"
nvme resv-report "$dev" "$eds" >/tmp/r.out 2>&1 || fail "resv-report after the preemption"
grep -E "rtype|regctl |rkey" /tmp/r.out | sed 's/^/GUEST-REPORT: /'
echo "GUEST-OK"
