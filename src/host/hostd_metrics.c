/* The host process's Prometheus metrics (`connect --metrics ADDR:PORT`): per path (controller),
 * commands and bytes sent by opcode, errors, failovers, error recoveries and reconnects, its state and
 * the commands in flight. The event loop owns every figure, so it also writes the text: the endpoint's
 * thread asks for a fresh one and waits (a turn of the loop, 100 ms at most) for it, never touching
 * a path itself. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/hostd.h"
#include "util/log.h"
#include "util/metrics_http.h"
#include "util/metrics_text.h"

#define PFX "tightrope_host_"
#define RENDER_WAIT_S 2 /* the loop answers within a turn; past this, the last text is served */

struct hostd_metrics {
	struct tr_metrics_http *http;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	_Atomic bool want; /* the endpoint waits for a fresh text */
	uint64_t gen; /* texts published: under lock */
	char *text;
	size_t len;
};

static const char *const op_names[HM_OPS] = { [BLKREQ_READ] = "read", [BLKREQ_WRITE] = "write",
					      [BLKREQ_FLUSH] = "flush", [BLKREQ_DEALLOCATE] = "dsm",
					      [BLKREQ_ZEROES] = "write_zeroes" };

static void help(struct tr_metrics_text *o, const char *name, const char *type, const char *text)
{
	tr_metrics_printf(o, "# HELP " PFX "%s %s\n# TYPE " PFX "%s %s\n", name, text, name, type);
}

#define for_each_path(h, p)                                                         \
	for (struct hpath *p = (h)->paths; p < (h)->paths + MAX_PATHS; p++) \
		if (p->used && p->state != PS_NEW)

/* One line per path of a per-path counter, its value at offset 'off' in struct hpath_metrics. */
static void per_path(struct tr_metrics_text *o, struct hostd *h, const char *sub, const char *name, size_t off)
{
	for_each_path(h, p)
		tr_metrics_printf(o, PFX "%s{subsys=\"%s\",path=\"%s\"} %llu\n", name, sub, p->name,
			   (unsigned long long)*(const uint64_t *)((const char *)&p->m + off));
}

static void render_paths(struct tr_metrics_text *o, struct hostd *h, const char *sub)
{
	char a[2 * NVMF_TRADDR_SIZE + 4], s[2 * NVMF_TRSVCID_SIZE + 4];

	help(o, "path_info", "gauge", "A path (controller): its address, controller ID and state.");
	for_each_path(h, p)
		tr_metrics_printf(o,
				  PFX "path_info{subsys=\"%s\",path=\"%s\",traddr=\"%s\",trsvcid=\"%s\",cntlid=\"%u\","
				      "state=\"%s\"} 1\n",
				  sub, p->name, tr_metrics_escape(p->traddr, a, sizeof(a)),
				  tr_metrics_escape(p->trsvcid, s, sizeof(s)), p->cntlid, path_state_name(p->state));
	help(o, "path_live", "gauge", "1 while the path is live and every queue healthy.");
	for_each_path(h, p)
		tr_metrics_printf(o, PFX "path_live{subsys=\"%s\",path=\"%s\"} %d\n", sub, p->name, path_up(p) ? 1 : 0);
	help(o, "inflight_commands", "gauge", "Commands sent on the path and not yet answered.");
	for_each_path(h, p)
		tr_metrics_printf(o, PFX "inflight_commands{subsys=\"%s\",path=\"%s\"} %d\n", sub, p->name, path_io_inflight(p));
	help(o, "commands_total", "counter", "I/O commands sent, by opcode.");
	for_each_path(h, p)
		for (int op = 0; op < HM_OPS; op++)
			tr_metrics_printf(o, PFX "commands_total{subsys=\"%s\",path=\"%s\",op=\"%s\"} %llu\n", sub, p->name,
				   op_names[op], (unsigned long long)p->m.cmds[op]);
	help(o, "bytes_total", "counter", "Bytes of the read and write commands sent.");
	for_each_path(h, p)
		for (int op = BLKREQ_READ; op <= BLKREQ_WRITE; op++)
			tr_metrics_printf(o, PFX "bytes_total{subsys=\"%s\",path=\"%s\",op=\"%s\"} %llu\n", sub, p->name,
				   op_names[op], (unsigned long long)p->m.bytes[op]);
}

static char *render(struct hostd *h, size_t *len)
{
	struct tr_metrics_text o = { 0 };
	char sub[2 * NVME_NQN_SIZE + 4];

	tr_metrics_escape(h->subnqn, sub, sizeof(sub));
	render_paths(&o, h, sub);
	help(&o, "command_errors_total", "counter", "I/O commands answered with an error or failed by the transport.");
	per_path(&o, h, sub, "command_errors_total", offsetof(struct hpath_metrics, errors));
	help(&o, "failovers_total", "counter",
	     "Commands answered with a path error (ANA, host path error): sent again elsewhere.");
	per_path(&o, h, sub, "failovers_total", offsetof(struct hpath_metrics, failovers));
	help(&o, "recoveries_total", "counter", "Error recoveries started: the connection or keep-alive lost.");
	per_path(&o, h, sub, "recoveries_total", offsetof(struct hpath_metrics, recoveries));
	help(&o, "reconnects_total", "counter", "Successful reconnects after a recovery.");
	per_path(&o, h, sub, "reconnects_total", offsetof(struct hpath_metrics, reconnects));
	if (o.failed) {
		free(o.buf);
		return NULL;
	}
	*len = o.len;
	return o.buf;
}

/* The endpoint's thread: ask the loop for a text and wait for it; a stuck loop gets the last one. */
static char *fetch(void *ctx, size_t *len)
{
	struct hostd_metrics *m = ctx;
	struct timespec until;
	char *copy = NULL;
	uint64_t gen;
	int err = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += RENDER_WAIT_S;
	pthread_mutex_lock(&m->lock);
	gen = m->gen;
	atomic_store(&m->want, true);
	while (m->gen == gen && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&m->cond, &m->lock, &until);
	if (m->text && (copy = malloc(m->len + 1))) {
		memcpy(copy, m->text, m->len + 1);
		*len = m->len;
	}
	pthread_mutex_unlock(&m->lock);
	return copy;
}

void hostd_metrics_serve(struct hostd *h)
{
	struct hostd_metrics *m = h->metrics;
	size_t len;
	char *text;

	if (!m || !atomic_load_explicit(&m->want, memory_order_relaxed))
		return;
	atomic_store(&m->want, false);
	text = render(h, &len);
	pthread_mutex_lock(&m->lock);
	if (text) {
		free(m->text);
		m->text = text;
		m->len = len;
	}
	m->gen++; /* answered, even if out of memory: the last text goes out */
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

int hostd_metrics_start(struct hostd *h, char *why, size_t whylen)
{
	struct hostd_metrics *m;
	int err;

	if (!h->o.metrics)
		return 0;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->cond, NULL);
	h->metrics = m;
	err = tr_metrics_http_start(h->o.metrics, fetch, m, &m->http);
	if (err) {
		snprintf(why, whylen, "--metrics %.200s: %s", h->o.metrics,
			 err == -EINVAL ? "expected ADDR:PORT ([ADDR]:PORT for IPv6)" : strerror(-err));
		hostd_metrics_stop(h);
	}
	return err;
}

void hostd_metrics_stop(struct hostd *h)
{
	struct hostd_metrics *m = h->metrics;

	if (!m)
		return;
	tr_metrics_http_stop(m->http); /* no fetch runs past this */
	h->metrics = NULL;
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m->text);
	free(m);
}
