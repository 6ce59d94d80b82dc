/* Controllers of the dynamic model: creation at admin Connect, registers (CAP/VS/CC/CSTS),
 * keep-alive expiry, namespace-change events, and teardown that leaves nothing behind. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "target/cmd.h"
#include "util/clock.h"
#include "util/log.h"

#define TGT_VERSION NVME_VS(1, 3, 0)
#define TGT_CAP_TO 15 /* CAP.TO, 500 ms units: 7.5 s for CSTS.RDY to follow CC.EN */

struct tgt_ctrl *tgt_ctrl_create(struct tgt_subsys *s, const char *hostnqn, const uint8_t *hostid,
				 uint32_t kato_ms, uint16_t portid)
{
	struct tgt_ctrl *ctrl = calloc(1, sizeof(*ctrl));
	uint16_t tries = 0;

	if (!ctrl)
		return NULL;
	atomic_init(&ctrl->refs, 1); /* the subsystem's list reference, dropped at teardown */
	pthread_mutex_init(&ctrl->lock, NULL);
	ctrl->subsys = s;
	snprintf(ctrl->hostnqn, sizeof(ctrl->hostnqn), "%s", hostnqn);
	memcpy(ctrl->hostid, hostid, sizeof(ctrl->hostid));
	ctrl->kato_ms = kato_ms;
	ctrl->portid = portid;
	/* Until Set Features Number of Queues says otherwise, the host may connect as many I/O queues
	 * as Get Features reports (the Linux and SPDK targets accept a host that never asks). */
	ctrl->nr_io_queues = TGT_MAX_IO_QUEUES;
	atomic_init(&ctrl->last_activity_ms, tr_now_ms());

	pthread_mutex_lock(&s->lock);
	/* Connect checked the host before; checked again where the controller joins the list, so a
	 * forbid-host in between cannot miss it (forbid-host changes the lists under this lock). */
	if (!tgt_subsys_host_allowed(s, hostnqn)) {
		pthread_mutex_unlock(&s->lock);
		tr_warn("%s: host \"%s\" was forbidden while it connected", s->nqn, hostnqn);
		pthread_mutex_destroy(&ctrl->lock);
		free(ctrl);
		return NULL;
	}
	/* Controller IDs from the subsystem's range (1..NVME_CNTLID_MAX unless pinned), never one in use
	 * (a dead one may linger until its queues close). */
	for (;;) {
		struct tgt_ctrl *c;
		uint16_t id = s->next_cntlid < s->cntlid_min || s->next_cntlid > s->cntlid_max ? s->cntlid_min
											    : s->next_cntlid;

		s->next_cntlid = (uint16_t)(id >= s->cntlid_max ? s->cntlid_min : id + 1);
		for (c = s->ctrls; c && c->cntlid != id; c = c->next)
			;
		if (!c) {
			ctrl->cntlid = id;
			break;
		}
		if (++tries > s->cntlid_max - s->cntlid_min) {
			pthread_mutex_unlock(&s->lock);
			tr_warn("%s: no free controller ID in %u..%u for host \"%s\"", s->nqn, s->cntlid_min,
				s->cntlid_max, hostnqn);
			pthread_mutex_destroy(&ctrl->lock);
			free(ctrl);
			return NULL;
		}
	}
	ctrl->next = s->ctrls;
	s->ctrls = ctrl;
	pthread_mutex_unlock(&s->lock);
	tgt_metrics_inc(&s->metrics.ctrls_created);
	return ctrl;
}

struct tgt_ctrl *tgt_ctrl_lookup(struct tgt_subsys *s, uint16_t cntlid)
{
	struct tgt_ctrl *c;

	pthread_mutex_lock(&s->lock);
	for (c = s->ctrls; c; c = c->next) {
		if (c->cntlid == cntlid)
			break;
	}
	if (c && !tgt_ctrl_tryget(c))
		c = NULL;
	pthread_mutex_unlock(&s->lock);
	return c;
}

bool tgt_ctrl_tryget(struct tgt_ctrl *ctrl)
{
	int refs = atomic_load_explicit(&ctrl->refs, memory_order_relaxed);

	/* One whose last reference is on its way out is as good as gone: it stays on the subsystem's
	 * list until its putter gets the lock, and taking a reference then would resurrect it. */
	do {
		if (refs == 0)
			return false;
	} while (!atomic_compare_exchange_weak(&ctrl->refs, &refs, refs + 1));
	return true;
}

void tgt_ctrl_get(struct tgt_ctrl *ctrl)
{
	atomic_fetch_add_explicit(&ctrl->refs, 1, memory_order_relaxed);
}

void tgt_ctrl_put(struct tgt_ctrl *ctrl)
{
	struct tgt_subsys *s = ctrl->subsys;

	if (atomic_fetch_sub_explicit(&ctrl->refs, 1, memory_order_acq_rel) != 1)
		return;
	pthread_mutex_lock(&s->lock);
	for (struct tgt_ctrl **pp = &s->ctrls; *pp; pp = &(*pp)->next) {
		if (*pp == ctrl) {
			*pp = ctrl->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->lock);
	tr_info("ctrl %u (%s, host \"%s\") freed", ctrl->cntlid, s->nqn, ctrl->hostnqn);
	pthread_mutex_destroy(&ctrl->lock);
	free(ctrl);
}

/* Tear the controller down: every queue's socket is shut down, so each worker frees its own
 * queue; the last queue's reference frees the controller. Safe from any thread, idempotent;
 * true for the call that started it, so a caller can count what it tore down. */
bool tgt_ctrl_fatal(struct tgt_ctrl *ctrl, const char *why)
{
	bool first;

	pthread_mutex_lock(&ctrl->lock);
	first = !ctrl->dead;
	if (first)
		snprintf(ctrl->dead_why, sizeof(ctrl->dead_why), "%s", why);
	ctrl->dead = true;
	for (int i = 0; i <= TGT_MAX_IO_QUEUES; i++) {
		if (ctrl->queues[i])
			ctrl->queues[i]->ops->shutdown(ctrl->queues[i]);
	}
	pthread_mutex_unlock(&ctrl->lock);
	if (first) {
		tr_info("ctrl %u (%s, host \"%s\"): tearing down: %s", ctrl->cntlid, ctrl->subsys->nqn,
			ctrl->hostnqn, why);
		tgt_ctrl_put(ctrl); /* the subsystem list's reference */
	}
	return first;
}

void tgt_ctrl_touch_at(struct tgt_ctrl *ctrl, uint64_t now_ms)
{
	atomic_store_explicit(&ctrl->last_activity_ms, now_ms, memory_order_relaxed);
}

void tgt_ctrl_touch(struct tgt_ctrl *ctrl)
{
	tgt_ctrl_touch_at(ctrl, tr_now_ms());
}

void tgt_ctrl_check_keep_alive(struct tgt_ctrl *ctrl, uint64_t now_ms)
{
	uint64_t last = atomic_load_explicit(&ctrl->last_activity_ms, memory_order_relaxed);
	uint32_t idle_ms = ctrl->subsys->target ? ctrl->subsys->target->idle_timeout_ms : 0;
	bool dead;

	/* Under the lock: another thread (forbid-host, a reload) may be tearing it down right now. */
	pthread_mutex_lock(&ctrl->lock);
	dead = ctrl->dead;
	pthread_mutex_unlock(&ctrl->lock);
	if (dead)
		return;
	if (ctrl->kato_ms && now_ms >= last + ctrl->kato_ms) {
		/* The Linux target's words, so operators' log searches carry over. */
		tr_warn("ctrl %u keep-alive timer (%u seconds) expired!", ctrl->cntlid,
			(ctrl->kato_ms + 999) / 1000);
		if (tgt_ctrl_fatal(ctrl, "keep-alive timeout"))
			tgt_metrics_inc(&ctrl->subsys->metrics.ka_expiries);
	} else if (!ctrl->kato_ms && idle_ms && now_ms >= last + idle_ms) {
		/* Keep-alive off is no licence to hold a controller forever: a host that sent nothing on
		 * any queue for this long is gone. */
		tr_warn("ctrl %u (host \"%s\"): keep-alive off and no command for %u seconds; tearing it down",
			ctrl->cntlid, ctrl->hostnqn, idle_ms / 1000);
		tgt_ctrl_fatal(ctrl, "idle timeout with keep-alive off");
	}
}

uint64_t tgt_ctrl_cap(void)
{
	/* Contiguous queues required, the NVM command set; MPSMIN = MPSMAX = 0: 4 KiB pages. */
	return NVME_CAP_MQES(TGT_MQES) | NVME_CAP_CQR | NVME_CAP_TO(TGT_CAP_TO) | NVME_CAP_CSS_NVM;
}

int tgt_ctrl_property_get(struct tgt_ctrl *ctrl, uint32_t offset, bool eight, uint64_t *value)
{
	switch (offset) {
	case NVME_REG_CAP:
		if (!eight)
			return -EINVAL;
		*value = tgt_ctrl_cap();
		return 0;
	case NVME_REG_VS:
		*value = TGT_VERSION;
		break;
	case NVME_REG_CC:
		*value = ctrl->cc;
		break;
	case NVME_REG_CSTS:
		*value = ctrl->csts;
		break;
	default:
		return -EINVAL;
	}
	return eight ? -EINVAL : 0;
}

int tgt_ctrl_property_set(struct tgt_ctrl *ctrl, uint32_t offset, uint64_t value)
{
	uint32_t old = ctrl->cc, cc = (uint32_t)value;

	if (offset != NVME_REG_CC)
		return -EINVAL;
	ctrl->cc = cc;
	if ((cc & NVME_CC_ENABLE) && !(old & NVME_CC_ENABLE)) {
		/* Only 64-byte SQEs, 16-byte CQEs, 4 KiB pages and the NVM command set exist here. */
		if (NVME_CC_IOSQES(cc) != NVME_SQES_LOG2 || NVME_CC_IOCQES(cc) != NVME_CQES_LOG2 ||
		    NVME_CC_MPS(cc) != NVME_CC_MPS_4K || NVME_CC_CSS(cc) != NVME_CC_CSS_NVM) {
			ctrl->csts = NVME_CSTS_CFS;
			tr_warn("ctrl %u: host enabled it with unsupported CC %#x", ctrl->cntlid, cc);
			return 0;
		}
		ctrl->csts = NVME_CSTS_RDY;
	}
	if (!(cc & NVME_CC_ENABLE) && (old & NVME_CC_ENABLE))
		ctrl->csts = 0;
	if ((cc & NVME_CC_SHN_MASK) && !(old & NVME_CC_SHN_MASK)) {
		/* Nothing is cached in the controller: shutdown is complete at once. */
		ctrl->csts |= NVME_CSTS_SHST_CMPLT;
		tr_info("ctrl %u (%s): shutdown by host \"%s\"", ctrl->cntlid, ctrl->subsys->nqn, ctrl->hostnqn);
	}
	if (!(cc & NVME_CC_SHN_MASK) && (old & NVME_CC_SHN_MASK))
		ctrl->csts &= ~NVME_CSTS_SHST_MASK;
	return 0;
}

/* Mark an event pending and wake the admin queue's worker to report it; ctrl->lock held. */
static void post_event(struct tgt_ctrl *ctrl, uint32_t event)
{
	ctrl->aen_pending |= event;
	if (ctrl->queues[0] && !ctrl->dead) {
		tgt_ctrl_get(ctrl); /* the message's; the caller holds one, so this one is never the last */
		tgt_worker_post_aen(ctrl->queues[0]->worker, ctrl);
	}
}

/* Control thread, with a reference held: remember the change and wake the admin queue's worker
 * to report it. */
void tgt_ctrl_ns_changed(struct tgt_ctrl *ctrl, uint32_t nsid)
{
	pthread_mutex_lock(&ctrl->lock);
	if (ctrl->nr_changed_ns < NVME_CHANGED_NS_MAX) {
		bool seen = false;

		for (uint32_t i = 0; i < ctrl->nr_changed_ns; i++)
			seen |= ctrl->changed_ns[i] == nsid;
		if (!seen)
			ctrl->changed_ns[ctrl->nr_changed_ns++] = nsid;
	} else {
		ctrl->nr_changed_ns = NVME_CHANGED_NS_MAX + 1;
	}
	post_event(ctrl, TGT_AEN_NS_CHANGED);
	pthread_mutex_unlock(&ctrl->lock);
}

/* Control thread, with a reference held: an ANA state this controller reports changed. */
void tgt_ctrl_ana_changed(struct tgt_ctrl *ctrl)
{
	pthread_mutex_lock(&ctrl->lock);
	post_event(ctrl, TGT_AEN_ANA_CHANGE);
	pthread_mutex_unlock(&ctrl->lock);
}

void tgt_ctrl_resv_notice(struct tgt_ctrl *ctrl, uint32_t nsid, uint8_t type)
{
	pthread_mutex_lock(&ctrl->lock);
	if (++ctrl->resv_log_counter == 0)
		ctrl->resv_log_counter = 1;
	if (ctrl->resv_log_len < TGT_RESV_LOG_MAX) {
		struct tgt_resv_notice *n =
			&ctrl->resv_log[(ctrl->resv_log_first + ctrl->resv_log_len++) % TGT_RESV_LOG_MAX];

		n->count = ctrl->resv_log_counter;
		n->nsid = nsid;
		n->type = type;
	}
	post_event(ctrl, TGT_AEN_RESV);
	pthread_mutex_unlock(&ctrl->lock);
}

void tgt_ctrl_resv_log_take(struct tgt_ctrl *ctrl, struct nvme_resv_notify_log *log, bool retain)
{
	memset(log, 0, sizeof(*log));
	pthread_mutex_lock(&ctrl->lock);
	if (ctrl->resv_log_len) {
		const struct tgt_resv_notice *n = &ctrl->resv_log[ctrl->resv_log_first];

		log->count = n->count;
		log->type = n->type;
		log->nsid = n->nsid;
		log->nr_pages = (uint8_t)(ctrl->resv_log_len - 1);
		if (!retain) {
			ctrl->resv_log_first = (ctrl->resv_log_first + 1) % TGT_RESV_LOG_MAX;
			ctrl->resv_log_len--;
		}
	}
	/* Reading without RAE re-arms the event; notices still waiting announce themselves again. */
	if (!retain) {
		ctrl->aen_masked &= ~TGT_AEN_RESV;
		if (ctrl->resv_log_len)
			ctrl->aen_pending |= TGT_AEN_RESV;
	}
	pthread_mutex_unlock(&ctrl->lock);
	if (!retain)
		tgt_ctrl_deliver_aens(ctrl);
}

/* The events the host enabled (Set Features Asynchronous Event Configuration); reservation notices
 * have no bit there: the namespace's notification mask decides before they are posted. */
static uint32_t events_enabled(const struct tgt_ctrl *ctrl)
{
	return ((ctrl->aen_cfg & NVME_AEN_CFG_NS_ATTR) ? TGT_AEN_NS_CHANGED : 0) |
	       ((ctrl->aen_cfg & NVME_AEN_CFG_ANA_CHANGE) ? TGT_AEN_ANA_CHANGE : 0) | TGT_AEN_RESV;
}

/* Admin worker: complete parked AERs while events are due, enabled and not masked. */
void tgt_ctrl_deliver_aens(struct tgt_ctrl *ctrl)
{
	for (;;) {
		struct tgt_cmd *cmd;
		uint32_t due;

		pthread_mutex_lock(&ctrl->lock);
		due = ctrl->aen_pending & ~ctrl->aen_masked & events_enabled(ctrl);
		if (!due || !ctrl->nr_aers || ctrl->dead) {
			pthread_mutex_unlock(&ctrl->lock);
			return;
		}
		due &= -due; /* one event per AER, the lowest bit first */
		ctrl->aen_pending &= ~due;
		ctrl->aen_masked |= due;
		cmd = ctrl->aer_cmds[--ctrl->nr_aers];
		pthread_mutex_unlock(&ctrl->lock);

		if (due == TGT_AEN_NS_CHANGED) {
			cmd->cqe.result = NVME_AER_RESULT(NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_NS_CHANGED,
							  NVME_LOG_CHANGED_NS);
			tr_info("ctrl %u: namespace attribute changed notice sent", ctrl->cntlid);
		} else if (due == TGT_AEN_RESV) {
			cmd->cqe.result = NVME_AER_RESULT(NVME_AER_TYPE_IO_SPECIFIC, NVME_AER_RESV_LOG_AVAILABLE,
							  NVME_LOG_RESERVATION);
			tr_info("ctrl %u: reservation log page available", ctrl->cntlid);
		} else {
			cmd->cqe.result = NVME_AER_RESULT(NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_ANA, NVME_LOG_ANA);
			tr_info("ctrl %u: ANA change notice sent", ctrl->cntlid);
		}
		tgt_cmd_complete(cmd, NVME_SC_SUCCESS);
	}
}
