/* The input format of fuzz_target_cmds, the libFuzzer harness for the target's command handlers,
 * shared by the harness (fuzz_target_cmds.c) and its seed builders (fuzz_target_cmds_seeds.c): the input is a sequence of whole commands
 * that the harness frames itself (ICReq, capsule headers, digests, in-capsule data, H2CData answers
 * to R2Ts) and sends through socketpairs into an in-process target, so that mutations land in the
 * command fields (Connect, Property Get/Set, Disconnect, admin, discovery and I/O commands) rather
 * than dying in PDU framing as most of fuzz_target_queue's inputs do. What the target sends back is
 * checked as a host would check it (framing, digests, command IDs, data ranges) and discarded.
 *
 * Input: two header bytes, then records of { kind (1 byte), SQE (64 bytes), data length (2 bytes,
 * little-endian), data }; a short last record is cut at the end of the input.
 *
 * byte 0   bit 0 header digest, bit 1 data digest (on every connection of the input)
 *          bits 2-3 what slot 0 starts with: 0 = the admin queue of an I/O controller of FUZZ_NQN
 *          (Connect, Property Set CC.EN, Set Features Number of Queues = 4), 1 = the admin queue of
 *          a discovery controller (Connect, CC.EN), 2 = an I/O controller not enabled, 3 = nothing
 *          bits 4-5 the listener every connection arrives on: none, port 1 (192.0.2.1:4420),
 *          port 2 ([::]:4420, the only port exporting PORT2_NQN), port 3 (discovery only, 8009)
 *          bit 6 slots 1 and 3 are served by the second worker thread
 * byte 1   bits 0-1 H2CData PDU size: the whole R2T window, 4096, 1536 or 512 bytes
 *          bits 2-3 HPDA asked for in every ICReq: 0, 1, 3 or 31
 * kind     bits 0-2 action, bits 3-4 connection slot (0-3), bits 5-6 data mode, bit 7 "no wait":
 *          send and go on without waiting for the completion (pipelining)
 *   0, 7   CMD: send the SQE on the slot's connection (skipped if it is closed). Command ID is the
 *          harness's. Data modes: 0 = the harness writes a consistent SGL (PSDT = SGL; length from
 *          NLB for Read/Write/Compare on an I/O queue, from the range count for DSM, else the SGL
 *          length the SQE gives, else the record's data length (host to controller) or NUMD / 4 KiB
 *          (controller to host)); data to the controller goes in the capsule when it fits, 1 = the
 *          same but data always behind an R2T, 2 = SQE verbatim, record data in the capsule only if
 *          the SGL says in-capsule, 3 = SQE verbatim, record data always in the capsule. Data is
 *          the record's, zero-padded to what the target asks for.
 *          The SQE's FUSE bits (flags 1:0) are sent as they are. A FIRST (01b) on an I/O queue is not
 *          waited for: the target answers it only once the queue's next command has come. When a
 *          SECOND (10b) is that next command, the two answers must agree: both succeed or neither.
 *   6      CMD with a wrong data digest on its data (when data digests are on)
 *   1      OPEN: (re)open the slot: a new connection and its ICReq/ICResp, no Connect
 *   2      CONNECT: a Fabrics Connect with the SQE's QID, SQSIZE, CATTR, KATO, RECFMT; opens the
 *          slot first if it is closed. Data bytes: [0] subsystem NQN (0 FUZZ_NQN, 1 discovery,
 *          2 LOCKED_NQN, 3 PORT2_NQN, 4 empty, 5 unterminated, 6 unknown 255-byte NQN, 7 raw from
 *          data[21..]), [1] host NQN (0 FUZZ_HOSTNQN, 1 another host, 2 empty, 3 unterminated,
 *          4 255 bytes, 5 raw from data[21..], 6 AUTH_HOSTNQN, 7 AUTH_DH_HOSTNQN: hosts that must
 *          authenticate with DH-HMAC-CHAP, the second bidirectionally over ffdhe2048), [2] CNTLID (0 = 0xFFFF for QID 0, else the
 *          last controller an admin Connect of this input made; 1 that controller; 2 0xFFFF; 3 raw
 *          data[3..4]; 4-255 that controller + (int8_t)data[3]), [5..20] host identifier.
 *          Data modes: 0 in-capsule, 1 behind an R2T, 2 SGL from the SQE verbatim (its length of
 *          in-capsule data if it says in-capsule), 3 SGL from the SQE, 1024 bytes in the capsule
 *   3      CLOSE the slot's connection (an admin queue takes its controller with it)
 *   4      NS: add or remove a namespace of FUZZ_NQN, as `tightrope ctl add-ns/remove-ns` does
 *          (SQE byte 0 & 3 picks NSID 3, 1, 4 or 1024; NSID 3 is in ANA group 2): notices, AERs,
 *          queues' namespace caches. With SQE byte 0 bit 7 set, an ANA change instead, as
 *          `tightrope ctl set-ana` makes it: port ID 0-3 (byte 1 & 3), group 1-3 (byte 2 % 3 + 1),
 *          state (byte 3 % 5: optimized, non-optimized, inaccessible, persistent loss, change)
 *   5      SYNC: wait for every outstanding command on every slot
 * Every input starts from the same target state: all of its connections are closed at the end,
 * the harness waits until the target has freed every controller and queue, then restores the
 * namespaces, zeroes their data, restarts controller IDs at 1 and forgets every ANA state.
 *
 * If the harness's input directory is empty at start-up, it is first filled with seeds that reach
 * every action and command kind (FUZZ_NO_SEEDS=1 skips that). FUZZ_LOG=warn|info|debug turns the
 * target's log on and FUZZ_TRACE=1 prints every command and answer (for reproducing a finding; at
 * fuzzing speed both are a flood). */
#ifndef TIGHTROPE_FUZZ_TARGET_CMDS_H
#define TIGHTROPE_FUZZ_TARGET_CMDS_H

#define FUZZ_NQN "nqn.2026-11.io.tightrope:fuzz"
#define LOCKED_NQN "nqn.2026-11.io.tightrope:locked"
#define PORT2_NQN "nqn.2026-11.io.tightrope:port2"
#define FUZZ_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-00000000f022"
#define AUTH_HOSTNQN "nqn.2026-12.io.tightrope:fuzz-auth"
#define AUTH_DH_HOSTNQN "nqn.2026-12.io.tightrope:fuzz-auth-dh"
#define AUTH_SECRET "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:" /* the spec's example */
#define OTHER_HOSTNQN "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-0000000000bb"

#define NR_SLOTS 4
#define HDR_LEN 2
#define REC_HDR (1 + 64 + 2)

/* CDW0 bits 9:8, the SQE's flags bits 1:0: fused operation (NVMe Base 2.0, 4.2). */
#define SQE_FUSE_MASK 0x03
#define SQE_FUSE_FIRST 0x01
#define SQE_FUSE_SECOND 0x02

enum action { ACT_CMD, ACT_OPEN, ACT_CONNECT, ACT_CLOSE, ACT_NS, ACT_SYNC, ACT_CMD_BAD_DDGST, ACT_CMD2 };
enum setup { SETUP_IO, SETUP_DISCOVERY, SETUP_DISABLED, SETUP_NONE };

/* Fill dir with one seed input per action and command kind. */
void fuzz_cmds_write_seeds(const char *dir);

#endif
