/* The discovery controller's log page: one entry per (port, subsystem) this host may reach,
 * plus the current discovery subsystem, as the Linux target reports it. */
#include <stdlib.h>
#include <string.h>

#include "nvme/identify.h"
#include "target/cmd.h"
#include "util/log.h"

#define DISC_ASQSZ 32 /* the admin queue size each entry advertises, as the Linux target's */
#define DISC_LOG_SLACK 16 /* entries allocated beyond one per (subsystem, port): the discovery ones */

static bool wildcard(const char *addr)
{
	return !strcmp(addr, "0.0.0.0") || !strcmp(addr, "::") || !addr[0];
}

static void put_entry(struct nvmf_disc_log_entry *e, const struct tgt_queue *q, const struct tgt_listener *l,
		      const char *nqn, uint8_t subtype)
{
	struct nvmf_disc_entry_facts f = {
		.subnqn = nqn,
		/* A wildcard listener reports the address this host reached us on. */
		.traddr = wildcard(l->traddr) ? q->local_addr : l->traddr,
		.trsvcid = l->trsvcid,
		.subtype = subtype,
		.ipv6 = wildcard(l->traddr) ? q->local_ipv6 : l->ipv6,
		.portid = l->portid,
		.asqsz = DISC_ASQSZ,
		.treq = (l->tls == TGT_TLS_REQUIRED  ? NVMF_TREQ_REQUIRED
			 : l->tls == TGT_TLS_ALLOWED ? NVMF_TREQ_NOT_REQUIRED
						     : NVMF_TREQ_NOT_SPECIFIED) |
			NVMF_TREQ_DISABLE_SQFLOW,
		.sectype = l->tls == TGT_TLS_NONE ? NVMF_TCP_SECTYPE_NONE : NVMF_TCP_SECTYPE_TLS13,
	};

	nvmf_disc_entry_build(e, &f);
}

void tgt_disc_get_log_page(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;
	struct tgt_target *t = q->target;
	const char *hostnqn = q->ctrl->hostnqn;
	const struct tgt_listener *here = q->listener;
	uint8_t lid = NVME_LOG_LID(cmd->sqe.cdw10);
	uint64_t offset = tgt_cmd_log_offset(cmd);
	struct nvmf_disc_log_header *hdr;
	struct nvmf_disc_log_entry *entries;
	size_t cap = DISC_LOG_SLACK, n = 0, len;
	uint8_t *page;
	uint16_t status;

	if (lid != NVME_LOG_DISC) {
		tgt_cmd_complete(cmd, NVME_SC_INVALID_LOG_PAGE | NVME_SC_DNR);
		return;
	}
	if (offset % NVME_LOG_OFFSET_ALIGN) {
		tgt_cmd_complete(cmd, NVME_SC_INVALID_FIELD | NVME_SC_DNR);
		return;
	}

	/* A port that requires TLS is not shown to a host that has no PSK for it. */
	bool host_tls = tgt_host_has_tls(t, hostnqn);

	pthread_mutex_lock(&t->lock);
	for (struct tgt_subsys *s = t->subsystems; s; s = s->next)
		for (struct tgt_listener *l = t->listeners; l; l = l->next)
			cap++;
	page = calloc(1, sizeof(*hdr) + cap * sizeof(*entries));
	if (!page) {
		pthread_mutex_unlock(&t->lock);
		tgt_cmd_complete(cmd, NVME_SC_INTERNAL);
		return;
	}
	hdr = (struct nvmf_disc_log_header *)page;
	entries = (struct nvmf_disc_log_entry *)(page + sizeof(*hdr));
	/* On a dedicated discovery port, list every I/O port; on an I/O port, only that one. */
	for (struct tgt_listener *l = t->listeners; l; l = l->next) {
		if (l->discovery_only || (here && !here->discovery_only && l != here) ||
		    (l->tls == TGT_TLS_REQUIRED && !host_tls))
			continue;
		for (struct tgt_subsys *s = t->subsystems; s; s = s->next) {
			bool show;

			pthread_mutex_lock(&s->lock);
			show = tgt_subsys_on_port(s, l->portid) && tgt_subsys_host_allowed(s, hostnqn);
			pthread_mutex_unlock(&s->lock);
			if (show && n < cap)
				put_entry(&entries[n++], q, l, s->nqn, NVMF_SUBTYPE_NVME);
		}
	}
	if (here && n < cap)
		put_entry(&entries[n++], q, here, NVME_DISC_SUBSYS_NQN, NVMF_SUBTYPE_CURRENT_DISCOVERY);
	pthread_mutex_unlock(&t->lock);

	hdr->genctr = atomic_load(&t->disc_genctr);
	hdr->numrec = n;
	hdr->recfmt = 0;
	len = sizeof(*hdr) + n * sizeof(*entries);
	status = tgt_cmd_reply_at(cmd, page, len, offset);
	free(page);
	tgt_cmd_complete(cmd, status);
}
