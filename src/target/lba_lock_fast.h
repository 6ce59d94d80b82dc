/* The LBA range lock's fast paths (lba_lock.h), inline: they are on every command's way through the
 * core, and while no fused pair is about they are all the lock costs. */
#ifndef TIGHTROPE_TARGET_LBA_LOCK_FAST_H
#define TIGHTROPE_TARGET_LBA_LOCK_FAST_H

#include "target/cmd.h"
#include "target/worker.h"

/* An ordinary command about to run: true to run it now; false when it waits for a fused pair on its
 * blocks (it then runs through cmd->execute once the pair is done, or completes with an error). */
static inline bool tgt_lba_enter(struct tgt_cmd *cmd)
{
	struct tgt_lba_gate *g = cmd->ns->gate;
	const struct tgt_worker *w = cmd->queue->worker;
	unsigned shard = w && (unsigned)w->id < (unsigned)g->nr_shards ? (unsigned)w->id : 0;

	_Atomic long *n = &g->shards[shard].inflight;

	/* Counted first, checked second: a pair that raises the flag after this count waits for the
	 * command; one that raised it before is seen here. The order of the two needs a full barrier
	 * between them: the pair's side supplies it (membarrier, lba_lock.c) where the kernel can, and
	 * then this side is plain stores and loads; else a locked add here. */
	if (__builtin_expect(atomic_load_explicit(&tgt_lba_asymmetric, memory_order_relaxed), 1)) {
		atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) + 1, memory_order_relaxed);
		atomic_signal_fence(memory_order_seq_cst);
	} else {
		atomic_fetch_add_explicit(n, 1, memory_order_seq_cst);
	}
	if (__builtin_expect(atomic_load_explicit(&g->fused, memory_order_seq_cst) == 0, 1)) {
		cmd->lba_hold = TGT_LBA_FAST;
		cmd->lba_shard = (uint16_t)shard;
		return true;
	}
	atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) - 1, memory_order_release);
	return tgt_lba_enter_slow(cmd);
}

/* The command is done with its blocks. */
static inline void tgt_lba_leave(struct tgt_cmd *cmd)
{
	if (__builtin_expect(cmd->lba_hold == TGT_LBA_FAST, 1)) {
		_Atomic long *n = &cmd->ns->gate->shards[cmd->lba_shard].inflight;

		/* Only this worker writes its shard: no locked instruction, only the order. */
		atomic_store_explicit(n, atomic_load_explicit(n, memory_order_relaxed) - 1, memory_order_release);
		cmd->lba_hold = TGT_LBA_NONE;
	} else {
		tgt_lba_leave_slow(cmd);
	}
}

#endif
