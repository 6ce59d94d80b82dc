/* The target's Prometheus metrics: the counters the I/O path keeps (per namespace and worker, per
 * subsystem, per target), the text exposition built from them, and the HTTP endpoint serving it. */
#ifndef TIGHTROPE_TARGET_METRICS_H
#define TIGHTROPE_TARGET_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tgt_target;
struct tgt_cmd;

/* The op label: I/O opcodes one by one, then the admin and fabrics queues' commands (errors only). */
enum tgt_mop {
	TGT_MOP_READ,
	TGT_MOP_WRITE,
	TGT_MOP_FLUSH,
	TGT_MOP_WRITE_ZEROES,
	TGT_MOP_DSM,
	TGT_MOP_OTHER,
	TGT_MOP_IO_NR, /* the ops a namespace counts */
	TGT_MOP_ADMIN = TGT_MOP_IO_NR,
	TGT_MOP_FABRICS,
	TGT_MOP_NR,
};

/* Latency buckets' upper bounds: 5 us to 1 s in a 1-2.5-5 series; one more bucket for +Inf. */
#define TGT_LAT_BOUNDS 17

struct tgt_lat_hist {
	_Atomic uint64_t bucket[TGT_LAT_BOUNDS + 1]; /* per bucket, not cumulative (the scrape sums) */
	_Atomic uint64_t sum_ns;
};

/* One worker's counters for one namespace. Only that worker writes them (a relaxed load and store,
 * no locked add); the scrape reads them relaxed and sums the workers' shards. A cache line of its
 * own at least, so workers sharing a namespace do not share lines. */
struct tgt_ns_shard {
	_Atomic uint64_t cmds[TGT_MOP_IO_NR];
	_Atomic uint64_t bytes[TGT_MOP_IO_NR];
	struct tgt_lat_hist lat[TGT_MOP_IO_NR];
} __attribute__((aligned(64)));

/* Failed commands by (op, status), rare: a small open-addressed table that any thread adds to with
 * relaxed atomics (a slot is claimed by compare-and-swap). Past its size, counted in `overflow`. */
#define TGT_ERR_SLOTS 64
struct tgt_err_table {
	struct {
		_Atomic uint32_t key; /* 0 = free; else 1 + (op << 11 | SCT << 8 | SC) */
		_Atomic uint64_t count;
	} e[TGT_ERR_SLOTS];
	_Atomic uint64_t overflow;
};

struct tgt_subsys_metrics {
	_Atomic uint64_t ctrls_created;
	_Atomic uint64_t ka_expiries; /* controllers torn down because KATO passed without a command */
	struct tgt_err_table errors;
};

struct tgt_target_metrics {
	_Atomic bool on; /* --metrics given: the I/O path counts (off: it reads this flag only) */
	_Atomic uint64_t conns_accepted;
	_Atomic uint64_t conns_refused; /* over --max-connections, or out of descriptors */
	_Atomic uint64_t handshake_timeouts;
	_Atomic uint64_t hdgst_errors;
	_Atomic uint64_t ddgst_errors;
	struct tgt_err_table errors; /* commands of queues bound to no controller (a refused Connect) */
};

/* Counters for a new namespace, one shard per worker; NULL if out of memory. Freed with free(). */
struct tgt_ns_shard *tgt_metrics_ns_alloc(int nr_workers);
/* A command is answered (on its queue's worker): count it, its bytes, its latency, its error. */
void tgt_metrics_cmd_done(struct tgt_cmd *cmd, uint16_t status, uint64_t now_ns);
/* Count a failed command's status in a table (any thread). */
void tgt_metrics_err_add(struct tgt_err_table *t, enum tgt_mop op, uint16_t status);
static inline void tgt_metrics_inc(_Atomic uint64_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* The exposition (text format 0.0.4) of everything the target counts, in a malloc'd buffer of
 * *len bytes, NUL-terminated; NULL if out of memory. Takes the registries' locks, never a worker's. */
char *tgt_metrics_render(struct tgt_target *t, size_t *len);

/* Count, and serve GET /metrics on "ADDR:PORT" ([ADDR]:PORT for IPv6) from a thread of
 * libmicrohttpd's (util/metrics_http.c). 0 or -errno (logged). Stop before the registries go. */
int tgt_metrics_start(struct tgt_target *t, const char *spec);
void tgt_metrics_stop(void);

#endif
