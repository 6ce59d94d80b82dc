/* A namespace's LBA range lock: what makes a fused Compare and Write atomic with respect to every other
 * command on the overlapping blocks, from any queue or controller, at no lock cost while no fused
 * operation is about. */
#ifndef TIGHTROPE_TARGET_LBA_LOCK_H
#define TIGHTROPE_TARGET_LBA_LOCK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct tgt_cmd;

/* One command's claim on blocks [slba, end): it lives in the command. */
struct tgt_lba_range {
	uint64_t slba, end;
	bool fused; /* a fused pair's: excludes every overlapping claim, not only other fused ones */
	struct tgt_lba_range *prev, *next;
};

/* How a command holds the lock, if at all. */
enum tgt_lba_hold {
	TGT_LBA_NONE,
	TGT_LBA_FAST, /* counted in its worker's shard: no fused pair was registered when it started */
	TGT_LBA_LISTED, /* its range is on the list (waiting or running) */
};

/* Commands let through the fast path, counted per worker so that workers touch lines of their own:
 * each shard is written by its worker only (a locked add going in, for the check that follows it; a
 * plain store going out). A read of a RAM namespace sent from its memory counts until it is sent, or
 * until its worker copies it (tgt_workers_post_copy_replies). */
struct tgt_lba_shard {
	_Atomic long inflight;
} __attribute__((aligned(64)));

struct tgt_lba_gate {
	/* Fused pairs on the list: while any is, every command registers its range instead of taking the
	 * fast path, and a pair starts only once the fast path has emptied. */
	_Atomic int fused;
	/* Set by the namespace's first fused pair, for good: a RAM namespace then copies its reads instead
	 * of sending them from its memory (and the replies still being sent from it are copied by their
	 * workers), so no pair waits for a host to read its socket. */
	_Atomic bool copy_reads;
	pthread_mutex_t lock; /* the list */
	struct tgt_lba_range *head, *tail; /* in arrival order: a claim waits only for earlier ones */
	int nr_shards;
	struct tgt_lba_shard *shards;
};

/* Whether pairs order themselves against the fast path with membarrier(2) (set by tgt_lba_init when the
 * kernel offers MEMBARRIER_CMD_PRIVATE_EXPEDITED): then the fast path needs no locked instruction. */
extern _Atomic bool tgt_lba_asymmetric;
void tgt_lba_init(void);

struct tgt_lba_gate *tgt_lba_gate_new(int nr_workers);
void tgt_lba_gate_free(struct tgt_lba_gate *g);

/* Commands on blocks: Read, Write, Compare, Write Zeroes, Dataset Management (not Flush, not the
 * Reservation commands). */
#define TGT_LBA_OPCODES ((1u << 0x01) | (1u << 0x02) | (1u << 0x05) | (1u << 0x08) | (1u << 0x09))
static inline bool tgt_lba_opcode_needs_gate(uint8_t opcode)
{
	return opcode < 32 && (TGT_LBA_OPCODES >> opcode) & 1;
}

/* The slow paths of lba_lock_fast.h's inline tgt_lba_enter and tgt_lba_leave. */
bool tgt_lba_enter_slow(struct tgt_cmd *cmd);
void tgt_lba_leave_slow(struct tgt_cmd *cmd);

/* A fused pair, registered on the second command: true to run it now; false when it waits (run_pair is
 * called with the second command once the blocks and the fast path are clear, status 0; or with an
 * NVMe status when it cannot wait: then the pair fails, and the second's completion drops the claim). */
bool tgt_lba_enter_pair(struct tgt_cmd *second, void (*run_pair)(struct tgt_cmd *second, uint16_t status));

/* May reads of this namespace be sent from its memory (no fused pair has been seen on it)? */
static inline bool tgt_lba_may_map_reads(const struct tgt_lba_gate *g)
{
	return !atomic_load_explicit(&g->copy_reads, memory_order_relaxed);
}

#endif
