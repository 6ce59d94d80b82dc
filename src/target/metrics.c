/* The target's Prometheus metrics: counting on the I/O path (one shard per namespace and worker, so
 * the hot path is a relaxed load and store on a line no other thread writes) and the text exposition
 * (format 0.0.4) the scrape builds from the registries, the shards summed. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "target/cmd.h"
#include "target/metrics.h"
#include "util/metrics_http.h"
#include "util/metrics_text.h"

#define PFX "tightrope_target_"

static const char *const mop_names[TGT_MOP_NR] = {
	[TGT_MOP_READ] = "read",   [TGT_MOP_WRITE] = "write", [TGT_MOP_FLUSH] = "flush",
	[TGT_MOP_WRITE_ZEROES] = "write_zeroes", [TGT_MOP_DSM] = "dsm", [TGT_MOP_OTHER] = "other",
	[TGT_MOP_ADMIN] = "admin", [TGT_MOP_FABRICS] = "fabrics",
};

/* Upper bounds in nanoseconds, and as the le label says them in seconds. */
static const uint64_t lat_bound_ns[TGT_LAT_BOUNDS] = {
	5000,	   10000,	25000,	    50000,	100000,	    250000,	500000,	     1000000,	2500000,
	5000000, 10000000, 25000000, 50000000, 100000000, 250000000, 500000000, 1000000000,
};
static const char *const lat_bound_le[TGT_LAT_BOUNDS] = {
	"5e-06", "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025",
	"0.005", "0.01",  "0.025",   "0.05",  "0.1",    "0.25",    "0.5",    "1",
};

/* ---- Counting ---- */

struct tgt_ns_shard *tgt_metrics_ns_alloc(int nr_workers)
{
	size_t size = sizeof(struct tgt_ns_shard) * (size_t)(nr_workers > 0 ? nr_workers : 1);
	struct tgt_ns_shard *s = aligned_alloc(_Alignof(struct tgt_ns_shard), size);

	if (s)
		memset(s, 0, size);
	return s;
}

/* Only the owning worker writes a shard: no locked instruction is needed, yet a concurrent scrape's
 * relaxed load sees a whole value (and TSan sees atomics on both sides). */
static inline void shard_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

static enum tgt_mop io_mop(uint8_t opcode)
{
	switch (opcode) {
	case nvme_cmd_read: return TGT_MOP_READ;
	case nvme_cmd_write: return TGT_MOP_WRITE;
	case nvme_cmd_flush: return TGT_MOP_FLUSH;
	case nvme_cmd_write_zeroes: return TGT_MOP_WRITE_ZEROES;
	case nvme_cmd_dsm: return TGT_MOP_DSM;
	default: return TGT_MOP_OTHER;
	}
}

static enum tgt_mop cmd_mop(const struct tgt_cmd *cmd)
{
	if (cmd->sqe.opcode == nvme_admin_fabrics)
		return TGT_MOP_FABRICS;
	return tgt_queue_is_admin(cmd->queue) ? TGT_MOP_ADMIN : io_mop(cmd->sqe.opcode);
}

static unsigned lat_bucket(uint64_t ns)
{
	unsigned i = 0;

	while (i < TGT_LAT_BOUNDS && ns > lat_bound_ns[i])
		i++;
	return i;
}

void tgt_metrics_err_add(struct tgt_err_table *t, enum tgt_mop op, uint16_t status)
{
	uint32_t key = 1 + ((uint32_t)op << 11 | (status & 0x7ff));
	unsigned h = (key * 2654435761u) >> 26; /* 6 bits: TGT_ERR_SLOTS */

	for (unsigned n = 0; n < TGT_ERR_SLOTS; n++, h = (h + 1) % TGT_ERR_SLOTS) {
		uint32_t have = atomic_load_explicit(&t->e[h].key, memory_order_acquire);

		if (!have && atomic_compare_exchange_strong_explicit(&t->e[h].key, &have, key, memory_order_acq_rel,
								     memory_order_acquire))
			have = key;
		if (have == key) {
			tgt_metrics_inc(&t->e[h].count);
			return;
		}
	}
	tgt_metrics_inc(&t->overflow);
}

void tgt_metrics_cmd_done(struct tgt_cmd *cmd, uint16_t status, uint64_t now_ns)
{
	struct tgt_queue *q = cmd->queue;
	enum tgt_mop op = cmd_mop(cmd);

	if (status) {
		struct tgt_ctrl *c = q->ctrl;

		tgt_metrics_err_add(c ? &c->subsys->metrics.errors : &q->target->metrics.errors, op, status);
	}
	/* Namespaces count the commands that reached them (a command refused before the namespace was
	 * looked up has none: it shows only among the errors). */
	if (cmd->ns && cmd->ns->metrics && op < TGT_MOP_IO_NR) {
		struct tgt_ns_shard *s = &cmd->ns->metrics[q->worker ? q->worker->id : 0];
		uint64_t took = now_ns > cmd->start_ns ? now_ns - cmd->start_ns : 0;

		shard_add(&s->cmds[op], 1);
		if (!status && cmd->data_len && (op == TGT_MOP_READ || op == TGT_MOP_WRITE))
			shard_add(&s->bytes[op], cmd->data_len);
		shard_add(&s->lat[op].bucket[lat_bucket(took)], 1);
		shard_add(&s->lat[op].sum_ns, took);
	}
}

/* ---- The exposition ---- */

static void help(struct tr_metrics_text *o, const char *name, const char *type, const char *text)
{
	tr_metrics_printf(o, "# HELP " PFX "%s %s\n# TYPE " PFX "%s %s\n", name, text, name, type);
}

#define LOAD(x) atomic_load_explicit(&(x), memory_order_relaxed)

/* Every subsystem, the discovery subsystem last; the caller holds t->lock. */
#define for_each_subsys(t, s) \
	for (struct tgt_subsys *s = (t)->subsystems ? (t)->subsystems : (t)->discovery; s; \
	     s = s->next ? s->next : (s != (t)->discovery ? (t)->discovery : NULL))

/* What the scrape copies out under the registries' locks, then prints with none held. */
struct err_snap {
	uint32_t key[TGT_ERR_SLOTS];
	uint64_t count[TGT_ERR_SLOTS];
	uint64_t overflow;
};

struct subsys_snap {
	char nqn[NVME_NQN_SIZE * 2]; /* escaped */
	uint64_t ctrls, queues, inflight, ctrls_created, ka_expiries;
	struct err_snap errors;
};

struct ns_snap {
	const struct subsys_snap *sub;
	uint32_t nsid;
	struct tgt_ns_shard sum;
};

struct snap {
	struct subsys_snap *subs;
	size_t nr_subs;
	struct ns_snap *nss;
	size_t nr_nss;
	struct subsys_snap target; /* errors of queues with no controller, under subsys="" */
};

static void err_copy(struct err_snap *d, struct tgt_err_table *t)
{
	for (unsigned i = 0; i < TGT_ERR_SLOTS; i++) {
		d->key[i] = atomic_load_explicit(&t->e[i].key, memory_order_acquire);
		d->count[i] = LOAD(t->e[i].count);
	}
	d->overflow = LOAD(t->overflow);
}

static void shard_sum(struct tgt_ns_shard *d, struct tgt_ns_shard *s, int nr)
{
	memset(d, 0, sizeof(*d));
	for (int w = 0; w < nr; w++) {
		for (int op = 0; op < TGT_MOP_IO_NR; op++) {
			d->cmds[op] += LOAD(s[w].cmds[op]);
			d->bytes[op] += LOAD(s[w].bytes[op]);
			d->lat[op].sum_ns += LOAD(s[w].lat[op].sum_ns);
			for (int b = 0; b <= TGT_LAT_BOUNDS; b++)
				d->lat[op].bucket[b] += LOAD(s[w].lat[op].bucket[b]);
		}
	}
}

/* Controllers, their queues and the commands in flight on them; the caller holds s->lock. */
static void ctrls_snap(struct subsys_snap *d, struct tgt_subsys *s)
{
	for (struct tgt_ctrl *c = s->ctrls; c; c = c->next) {
		d->ctrls++;
		pthread_mutex_lock(&c->lock);
		for (int i = 0; i <= TGT_MAX_IO_QUEUES; i++) {
			if (!c->queues[i])
				continue;
			d->queues++;
			d->inflight += LOAD(c->queues[i]->stats.inflight);
		}
		pthread_mutex_unlock(&c->lock);
	}
}

static int ns_snap_add(struct snap *sn, size_t *cap, const struct subsys_snap *sub, struct tgt_ns *ns, int nr)
{
	if (sn->nr_nss == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		struct ns_snap *a = realloc(sn->nss, n * sizeof(*a));

		if (!a)
			return -1;
		sn->nss = a;
		*cap = n;
	}
	sn->nss[sn->nr_nss].sub = sub;
	sn->nss[sn->nr_nss].nsid = ns->nsid;
	shard_sum(&sn->nss[sn->nr_nss].sum, ns->metrics, nr);
	sn->nr_nss++;
	return 0;
}

/* The caller holds t->lock; subs has room for every subsystem. */
static int subsys_snap(struct snap *sn, struct tgt_target *t, struct tgt_subsys *s, size_t *ns_cap)
{
	struct subsys_snap *d = &sn->subs[sn->nr_subs++];
	int err = 0;

	memset(d, 0, sizeof(*d));
	tr_metrics_escape(s->nqn, d->nqn, sizeof(d->nqn));
	d->ctrls_created = LOAD(s->metrics.ctrls_created);
	d->ka_expiries = LOAD(s->metrics.ka_expiries);
	err_copy(&d->errors, &s->metrics.errors);
	pthread_mutex_lock(&s->lock);
	ctrls_snap(d, s);
	for (uint32_t i = 1; i <= TGT_MAX_NSID && !err; i++) {
		if (s->ns[i] && s->ns[i]->metrics)
			err = ns_snap_add(sn, ns_cap, d, s->ns[i], t->nr_workers);
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int take_snap(struct snap *sn, struct tgt_target *t)
{
	size_t n = 0, ns_cap = 0;
	int err = 0;

	memset(sn, 0, sizeof(*sn));
	err_copy(&sn->target.errors, &t->metrics.errors);
	pthread_mutex_lock(&t->lock);
	for_each_subsys(t, s)
		n++;
	sn->subs = calloc(n ? n : 1, sizeof(*sn->subs));
	if (!sn->subs)
		err = -1;
	for_each_subsys(t, s) {
		if (!err)
			err = subsys_snap(sn, t, s, &ns_cap);
	}
	pthread_mutex_unlock(&t->lock);
	return err;
}

static void print_ns_counters(struct tr_metrics_text *o, const struct snap *sn)
{
	help(o, "commands_total", "counter", "Commands answered, by namespace and opcode.");
	for (size_t i = 0; i < sn->nr_nss; i++) {
		const struct ns_snap *n = &sn->nss[i];

		for (int op = 0; op < TGT_MOP_IO_NR; op++)
			tr_metrics_printf(o, PFX "commands_total{subsys=\"%s\",nsid=\"%u\",op=\"%s\"} %llu\n", n->sub->nqn,
				   n->nsid, mop_names[op], (unsigned long long)n->sum.cmds[op]);
	}
	help(o, "bytes_total", "counter", "Bytes read and written by successful commands, by namespace.");
	for (size_t i = 0; i < sn->nr_nss; i++) {
		const struct ns_snap *n = &sn->nss[i];

		for (int op = TGT_MOP_READ; op <= TGT_MOP_WRITE; op++)
			tr_metrics_printf(o, PFX "bytes_total{subsys=\"%s\",nsid=\"%u\",op=\"%s\"} %llu\n", n->sub->nqn,
				   n->nsid, mop_names[op], (unsigned long long)n->sum.bytes[op]);
	}
}

/* Buckets cumulative, +Inf equal to _count by construction (both are the same sum). */
static void print_hist(struct tr_metrics_text *o, const struct ns_snap *n, int op)
{
	const struct tgt_lat_hist *h = &n->sum.lat[op];
	unsigned long long cum = 0;
	char lbl[NVME_NQN_SIZE * 2 + 64];

	snprintf(lbl, sizeof(lbl), "subsys=\"%s\",nsid=\"%u\",op=\"%s\"", n->sub->nqn, n->nsid, mop_names[op]);
	for (int b = 0; b <= TGT_LAT_BOUNDS; b++) {
		cum += h->bucket[b];
		tr_metrics_printf(o, PFX "command_duration_seconds_bucket{%s,le=\"%s\"} %llu\n", lbl,
			   b < TGT_LAT_BOUNDS ? lat_bound_le[b] : "+Inf", cum);
	}
	tr_metrics_printf(o, PFX "command_duration_seconds_sum{%s} %.9f\n", lbl, (double)h->sum_ns / 1e9);
	tr_metrics_printf(o, PFX "command_duration_seconds_count{%s} %llu\n", lbl, cum);
}

static void print_errors(struct tr_metrics_text *o, const struct subsys_snap *d)
{
	for (unsigned i = 0; i < TGT_ERR_SLOTS; i++) {
		uint32_t k = d->errors.key[i] - 1;

		if (!d->errors.key[i] || (k >> 11) >= TGT_MOP_NR)
			continue;
		tr_metrics_printf(o, PFX "command_errors_total{subsys=\"%s\",op=\"%s\",status=\"0x%03x\"} %llu\n", d->nqn,
			   mop_names[k >> 11], k & 0x7ff, (unsigned long long)d->errors.count[i]);
	}
	if (d->errors.overflow)
		tr_metrics_printf(o, PFX "command_errors_total{subsys=\"%s\",op=\"other\",status=\"other\"} %llu\n", d->nqn,
			   (unsigned long long)d->errors.overflow);
}

#define PER_SUBSYS(o, sn, name, field)                                                            \
	do {                                                                                      \
		for (size_t i_ = 0; i_ < (sn)->nr_subs; i_++)                                     \
			tr_metrics_printf(o, PFX name "{subsys=\"%s\"} %llu\n", (sn)->subs[i_].nqn,      \
				   (unsigned long long)(sn)->subs[i_].field);                     \
	} while (0)

static void print_subsys(struct tr_metrics_text *o, const struct snap *sn)
{
	help(o, "command_errors_total", "counter",
	     "Commands answered with an error, by opcode and status (hex: SCT << 8 | SC).");
	print_errors(o, &sn->target);
	for (size_t i = 0; i < sn->nr_subs; i++)
		print_errors(o, &sn->subs[i]);
	help(o, "controllers", "gauge", "Controllers, by subsystem.");
	PER_SUBSYS(o, sn, "controllers", ctrls);
	help(o, "queues", "gauge", "Admin and I/O queues bound to a controller, by subsystem.");
	PER_SUBSYS(o, sn, "queues", queues);
	help(o, "inflight_commands", "gauge", "Commands taken in and not yet answered (queue depth), by subsystem.");
	PER_SUBSYS(o, sn, "inflight_commands", inflight);
	help(o, "controllers_created_total", "counter", "Controllers created by Connect, by subsystem.");
	PER_SUBSYS(o, sn, "controllers_created_total", ctrls_created);
	help(o, "keep_alive_expiries_total", "counter",
	     "Controllers torn down because no command came within KATO, by subsystem.");
	PER_SUBSYS(o, sn, "keep_alive_expiries_total", ka_expiries);
}

static void print_target(struct tr_metrics_text *o, struct tgt_target *t)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} c[] = {
		{ "connections_accepted_total", "counter", "TCP connections accepted.",
		  offsetof(struct tgt_target_metrics, conns_accepted) },
		{ "connections_refused_total", "counter", "TCP connections refused (--max-connections, descriptors).",
		  offsetof(struct tgt_target_metrics, conns_refused) },
		{ "handshake_timeouts_total", "counter", "Connections closed for no ICReq or Connect in time.",
		  offsetof(struct tgt_target_metrics, handshake_timeouts) },
		{ "header_digest_errors_total", "counter", "PDU headers whose digest did not match.",
		  offsetof(struct tgt_target_metrics, hdgst_errors) },
		{ "data_digest_errors_total", "counter", "PDU data whose digest did not match.",
		  offsetof(struct tgt_target_metrics, ddgst_errors) },
	};

	help(o, "connections", "gauge", "TCP connections open.");
	tr_metrics_printf(o, PFX "connections %d\n", atomic_load_explicit(&t->nr_connections, memory_order_relaxed));
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		help(o, c[i].name, c[i].type, c[i].help);
		tr_metrics_printf(o, PFX "%s %llu\n", c[i].name,
			   (unsigned long long)LOAD(*(_Atomic uint64_t *)((char *)&t->metrics + c[i].off)));
	}
}

char *tgt_metrics_render(struct tgt_target *t, size_t *len)
{
	struct tr_metrics_text o = { .cap = 64 << 10 };
	struct snap sn;
	int err = take_snap(&sn, t);

	o.buf = malloc(o.cap);
	if (!o.buf || err)
		o.failed = true;
	print_ns_counters(&o, &sn);
	help(&o, "command_duration_seconds", "histogram",
	     "Time from a command's capsule to its answer being queued, by namespace and opcode.");
	for (size_t i = 0; i < sn.nr_nss; i++) {
		for (int op = 0; op < TGT_MOP_IO_NR; op++)
			print_hist(&o, &sn.nss[i], op);
	}
	print_subsys(&o, &sn);
	print_target(&o, t);
	free(sn.subs);
	free(sn.nss);
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}

/* ---- The endpoint ---- */

static struct tr_metrics_http *http;

static char *render(void *ctx, size_t *len)
{
	return tgt_metrics_render(ctx, len);
}

int tgt_metrics_start(struct tgt_target *t, const char *spec)
{
	int err;

	/* Counting starts now; the namespaces' shards exist already (they are always allocated). */
	atomic_store(&t->metrics.on, true);
	err = tr_metrics_http_start(spec, render, t, &http);
	if (err)
		atomic_store(&t->metrics.on, false);
	return err;
}

void tgt_metrics_stop(void)
{
	tr_metrics_http_stop(http);
	http = NULL;
}
