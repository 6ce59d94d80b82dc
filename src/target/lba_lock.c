/* The LBA range lock of a namespace (lba_lock.h). While no fused pair is about, a command only bumps a
 * counter of its worker's; a fused pair raises the namespace's flag, which sends every command that starts
 * after it through the list of claims, and waits until the counters show that the commands that did not
 * see the flag are done. Claims on the list wait for earlier overlapping ones where either side is a
 * fused pair, in arrival order, so neither side starves. Waiting is a short timer on the command's own
 * worker: fused commands are rare next to plain I/O and the wait is one backend round trip at most. */
#include <errno.h>
#include <linux/membarrier.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "target/cmd.h"
#include "target/lba_lock_fast.h"
#include "target/worker.h"
#include "util/log.h"

static struct __kernel_timespec wait_tick = { .tv_nsec = 20000 }; /* look again after 20 µs */

_Atomic bool tgt_lba_asymmetric;

void tgt_lba_init(void)
{
	atomic_store(&tgt_lba_asymmetric, syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0);
}

/* The full barrier the fast path leaves out, run on every thread of ours that is running (lba_lock_fast.h):
 * once it returns, every count made before it is seen here, and every check made after it sees the flag. */
static void fence_fast_path(void)
{
	/* Registered, it does not fail; were it to, fast paths go locked from their next command on. */
	if (atomic_load_explicit(&tgt_lba_asymmetric, memory_order_relaxed) &&
	    syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)) {
		tr_err("membarrier: %s; the LBA lock's fast path takes a locked add from now on", strerror(errno));
		atomic_store(&tgt_lba_asymmetric, false);
	}
}

struct tgt_lba_gate *tgt_lba_gate_new(int nr_workers)
{
	struct tgt_lba_gate *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->nr_shards = nr_workers > 0 ? nr_workers : 1;
	g->shards = aligned_alloc(_Alignof(struct tgt_lba_shard), sizeof(*g->shards) * (size_t)g->nr_shards);
	if (!g->shards) {
		free(g);
		return NULL;
	}
	for (int i = 0; i < g->nr_shards; i++)
		atomic_init(&g->shards[i].inflight, 0);
	atomic_init(&g->fused, 0);
	atomic_init(&g->copy_reads, false);
	pthread_mutex_init(&g->lock, NULL);
	return g;
}

void tgt_lba_gate_free(struct tgt_lba_gate *g)
{
	if (!g)
		return;
	pthread_mutex_destroy(&g->lock);
	free(g->shards);
	free(g);
}

static void cmd_range(struct tgt_cmd *cmd, bool fused)
{
	struct tgt_lba_range *r = &cmd->lba;

	if (cmd->sqe.opcode == nvme_cmd_dsm) { /* up to 256 ranges: claim the whole namespace, it is rare */
		r->slba = 0;
		r->end = UINT64_MAX;
	} else {
		r->slba = cmd->sqe.cdw10 | ((uint64_t)cmd->sqe.cdw11 << 32);
		r->end = r->slba + NVME_RW_NLB(cmd->sqe.cdw12); /* checked against the namespace's size at parse */
	}
	r->fused = fused;
	r->prev = r->next = NULL;
}

/* ---- The list (under g->lock) ---- */

static void list_append(struct tgt_lba_gate *g, struct tgt_lba_range *r)
{
	r->prev = g->tail;
	r->next = NULL;
	if (g->tail)
		g->tail->next = r;
	else
		g->head = r;
	g->tail = r;
}

static void list_remove(struct tgt_lba_gate *g, struct tgt_lba_range *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		g->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		g->tail = r->prev;
	r->prev = r->next = NULL;
}

static bool fast_path_empty(struct tgt_lba_gate *g)
{
	for (int i = 0; i < g->nr_shards; i++)
		if (atomic_load_explicit(&g->shards[i].inflight, memory_order_seq_cst))
			return false;
	return true;
}

/* May this claim go now: nothing earlier on the list conflicts with it, and for a pair, no command of the
 * fast path is still running? */
static bool may_run(struct tgt_lba_gate *g, const struct tgt_lba_range *r)
{
	for (const struct tgt_lba_range *e = g->head; e && e != r; e = e->next)
		if ((e->fused || r->fused) && e->slba < r->end && r->slba < e->end)
			return false;
	return !r->fused || fast_path_empty(g);
}

/* ---- Waiting ---- */

static void wait_check(struct tgt_ring_op *op, struct tgt_worker *w, int res);

static bool arm_wait(struct tgt_cmd *cmd, struct tgt_worker *w)
{
	struct io_uring_sqe *sqe;

	cmd->io.ring_op.done = wait_check;
	sqe = w ? tgt_worker_get_sqe(w, &cmd->io.ring_op) : NULL;
	if (!sqe)
		return false;
	io_uring_prep_timeout(sqe, &wait_tick, 0, 0);
	return true;
}

/* Go on with a command whose claim may run now (status 0), or fail it (its claim goes with it). */
static void resume(struct tgt_cmd *cmd, uint16_t status)
{
	if (cmd->lba_resume)
		cmd->lba_resume(cmd, status);
	else if (status)
		tgt_cmd_complete(cmd, status);
	else
		cmd->execute(cmd);
}

static void no_timer(struct tgt_cmd *cmd)
{
	tr_warn("%s: nsid %u: no timer to wait for a fused command on LBA %llu", cmd->queue->peer, cmd->ns->nsid,
		(unsigned long long)cmd->lba.slba);
	resume(cmd, NVME_SC_INTERNAL);
}

/* A queue that closed meanwhile still waits its turn: the command runs, and its answer goes nowhere. */
static void wait_check(struct tgt_ring_op *op, struct tgt_worker *w, int res)
{
	struct tgt_cmd *cmd = (struct tgt_cmd *)((char *)op - offsetof(struct tgt_cmd, io.ring_op));
	struct tgt_lba_gate *g = cmd->ns->gate;
	bool go;

	(void)res;
	pthread_mutex_lock(&g->lock);
	go = may_run(g, &cmd->lba);
	pthread_mutex_unlock(&g->lock);
	if (go)
		resume(cmd, 0);
	else if (atomic_load_explicit(&w->stopping, memory_order_relaxed))
		resume(cmd, NVME_SC_ABORT_QUEUE); /* the target stops: what it waits for may never come */
	else if (!arm_wait(cmd, w))
		no_timer(cmd);
}

/* Register the claim; true if it may run now, else it waits and lba_resume runs it later. */
static bool claim(struct tgt_lba_gate *g, struct tgt_cmd *cmd)
{
	bool go, first_pair = false;

	pthread_mutex_lock(&g->lock);
	if (cmd->lba.fused) {
		first_pair = !atomic_exchange_explicit(&g->copy_reads, true, memory_order_seq_cst);
		/* The pair that raises the flag fences, under the lock: a later pair, or this one's checks
		 * on its timer, see the fast path's counts only once that is done. */
		if (atomic_fetch_add_explicit(&g->fused, 1, memory_order_seq_cst) == 0)
			fence_fast_path();
	}
	list_append(g, &cmd->lba);
	cmd->lba_hold = TGT_LBA_LISTED;
	go = may_run(g, &cmd->lba);
	pthread_mutex_unlock(&g->lock);
	/* The namespace's first pair: reads are copied from now on, and the replies still being sent from
	 * a RAM namespace's memory are copied by their workers, which lets go of their blocks. */
	if (first_pair && cmd->ns->mem && !go)
		tgt_workers_post_copy_replies(cmd->queue->target, cmd->ns);
	if (go)
		return true;
	if (!arm_wait(cmd, cmd->queue->worker))
		no_timer(cmd);
	return false;
}

bool tgt_lba_enter_slow(struct tgt_cmd *cmd)
{
	cmd_range(cmd, false);
	cmd->lba_resume = NULL;
	return claim(cmd->ns->gate, cmd);
}

bool tgt_lba_enter_pair(struct tgt_cmd *second, void (*run_pair)(struct tgt_cmd *second, uint16_t status))
{
	cmd_range(second, true);
	second->lba_resume = run_pair;
	return claim(second->ns->gate, second);
}

void tgt_lba_leave_slow(struct tgt_cmd *cmd)
{
	struct tgt_lba_gate *g = cmd->ns->gate;

	if (cmd->lba_hold == TGT_LBA_LISTED) {
		pthread_mutex_lock(&g->lock);
		list_remove(g, &cmd->lba);
		if (cmd->lba.fused)
			atomic_fetch_sub_explicit(&g->fused, 1, memory_order_seq_cst);
		pthread_mutex_unlock(&g->lock);
	}
	cmd->lba_hold = TGT_LBA_NONE;
}
