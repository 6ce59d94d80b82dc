/* Fabrics commands: Connect (admin and I/O queues), Property Get/Set, Disconnect, and the gate in
 * front of Authentication Send/Receive (auth.c).
 * Connect failures name the offending field (IATTR/IPO), as the NVMe-oF spec asks. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "target/cmd.h"
#include "util/log.h"

#define DISC_DEFAULT_KATO_MS 120000 /* a discovery host that asks for none still gets one */

/* IATTR: where the offending field is: in the Connect SQE, or in its data. */
enum { IN_SQE = 0, IN_DATA = 1 };
#define SQE_FIELD(f) IN_SQE, offsetof(struct nvmf_connect_command, f)
#define DATA_FIELD(f) IN_DATA, offsetof(struct nvmf_connect_data, f)

/* Refuse a Connect: the result names the offending field (IATTR and IPO, as the NVMe-oF spec asks),
 * and the log says why, with the peer, since the host sees only a status code. */
static uint16_t __attribute__((format(printf, 5, 6)))
connect_refuse(struct tgt_cmd *cmd, uint16_t status, uint8_t iattr, uint16_t offset, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	tr_warn("%s: Connect refused: %s", cmd->queue->peer, why);
	cmd->cqe.result = NVMF_IPO_IATTR(iattr, offset);
	return status | NVME_SC_DNR;
}

/* Copy an NQN out of connect data; false if it is not NUL-terminated within its field. An empty
 * one is copied: SPDK's tools send an empty host NQN unless told one, and the Linux and SPDK
 * targets take it as just another host name for the ACL. */
static bool nqn_copy(char *dst, const char *src)
{
	size_t n = strnlen(src, NVME_NQN_SIZE);

	if (n == NVME_NQN_SIZE)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

static struct tgt_subsys *connect_find_subsys(struct tgt_queue *q, const char *subnqn)
{
	struct tgt_target *t = q->target;
	struct tgt_subsys *s;

	if (!strcmp(subnqn, NVME_DISC_SUBSYS_NQN))
		return t->discovery;
	if (q->listener && q->listener->discovery_only)
		return NULL;
	pthread_mutex_lock(&t->lock);
	s = tgt_subsys_find(t, subnqn);
	if (s && q->listener && !tgt_subsys_on_port(s, q->listener->portid))
		s = NULL;
	pthread_mutex_unlock(&t->lock);
	return s;
}

static uint16_t connect_admin(struct tgt_cmd *cmd, struct tgt_subsys *s, const struct nvmf_connect_data *d,
			      const char *hostnqn, uint16_t sqsize, uint32_t kato, bool sqhd_disabled)
{
	struct tgt_queue *q = cmd->queue;
	struct tgt_ctrl *ctrl;

	if (d->cntlid != NVME_CNTLID_DYNAMIC)
		return connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, DATA_FIELD(cntlid),
				      "it asks for static controller %u; only the dynamic model exists", d->cntlid);
	if (s->discovery && kato == 0)
		kato = DISC_DEFAULT_KATO_MS;
	ctrl = tgt_ctrl_create(s, hostnqn, d->hostid, kato, q->listener ? q->listener->portid : 0);
	if (!ctrl) {
		tr_warn("%s: Connect refused: no controller can be created for %s (out of memory or IDs)",
			q->peer, s->nqn);
		return NVME_SC_CONNECT_CTRL_BUSY | NVME_SC_DNR;
	}
	/* nvmet's rule: a host with a secret authenticates every queue of an I/O controller; discovery
	 * is never authenticated. */
	bool auth = !s->discovery && tgt_host_auth_required(q->target, hostnqn);
	tgt_ctrl_get(ctrl); /* the admin queue's reference */
	pthread_mutex_lock(&ctrl->lock);
	ctrl->auth_required = auth; /* under the lock: an I/O Connect on another worker reads it */
	ctrl->queues[0] = q;
	pthread_mutex_unlock(&ctrl->lock);
	if (tgt_queue_bind(q, ctrl, 0, (uint16_t)(sqsize + 1), sqhd_disabled)) {
		tr_warn("%s: Connect refused: out of memory for %u queue entries", q->peer, sqsize + 1);
		tgt_ctrl_fatal(ctrl, "out of memory at Connect");
		return NVME_SC_INTERNAL;
	}
	cmd->cqe.result = ctrl->cntlid | (ctrl->auth_required ? NVME_CONNECT_AUTHREQ_ATR : 0);
	tr_info("ctrl %u created: %s controller for %s, host \"%s\" from %s, kato %u ms%s", ctrl->cntlid,
		s->discovery ? "discovery" : "I/O", s->nqn, hostnqn, q->peer, kato,
		ctrl->auth_required ? ", authentication required" : "");
	return NVME_SC_SUCCESS;
}

/* Check an I/O queue's QID against its controller; caller holds ctrl->lock. The QID comes from the
 * wire: it is range-checked before it indexes queues[]. */
static uint16_t connect_io_check(struct tgt_cmd *cmd, struct tgt_ctrl *ctrl, uint16_t qid)
{
	if (ctrl->dead)
		return connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, DATA_FIELD(cntlid),
				      "I/O queue for controller %u, which is being torn down", ctrl->cntlid);
	if (ctrl->subsys->discovery)
		return connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, DATA_FIELD(cntlid),
				      "I/O queue for discovery controller %u", ctrl->cntlid);
	if (qid > ctrl->nr_io_queues)
		return connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, SQE_FIELD(qid),
				      "I/O queue %u, but controller %u has %u I/O queues", qid, ctrl->cntlid,
				      ctrl->nr_io_queues);
	if (ctrl->queues[qid])
		return connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, SQE_FIELD(qid),
				      "I/O queue %u of controller %u is already connected", qid, ctrl->cntlid);
	/* The I/O Connect names only a controller ID and a host NQN, both guessable: a controller whose
	 * admin queue has not proved the host's secret gets no I/O queue. */
	if (ctrl->auth_required && !ctrl->admin_authenticated)
		return connect_refuse(cmd, NVME_SC_AUTH_REQUIRED, DATA_FIELD(cntlid),
				      "I/O queue %u for controller %u, whose admin queue has not authenticated", qid,
				      ctrl->cntlid);
	return NVME_SC_SUCCESS;
}

static uint16_t connect_io(struct tgt_cmd *cmd, struct tgt_subsys *s, const struct nvmf_connect_data *d,
			   const char *hostnqn, uint16_t qid, uint16_t sqsize, bool sqhd_disabled)
{
	struct tgt_queue *q = cmd->queue;
	struct tgt_ctrl *ctrl = tgt_ctrl_lookup(s, d->cntlid);
	uint16_t status;

	if (!ctrl)
		return connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, DATA_FIELD(cntlid),
				      "I/O queue for unknown controller %u of %s", d->cntlid, s->nqn);
	if (strcmp(ctrl->hostnqn, hostnqn)) {
		status = connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, DATA_FIELD(hostnqn),
					"I/O queue for controller %u by another host (\"%s\")", ctrl->cntlid, hostnqn);
		goto out;
	}
	pthread_mutex_lock(&ctrl->lock);
	status = connect_io_check(cmd, ctrl, qid);
	if (!status)
		ctrl->queues[qid] = q;
	pthread_mutex_unlock(&ctrl->lock);
	if (status)
		goto out;
	if (tgt_queue_bind(q, ctrl, qid, (uint16_t)(sqsize + 1), sqhd_disabled)) {
		tr_warn("%s: Connect refused: out of memory for %u queue entries", q->peer, sqsize + 1);
		pthread_mutex_lock(&ctrl->lock);
		ctrl->queues[qid] = NULL;
		pthread_mutex_unlock(&ctrl->lock);
		status = NVME_SC_INTERNAL;
		goto out;
	}
	tr_debug("ctrl %u: I/O queue %u (size %u) connected from %s", ctrl->cntlid, qid, sqsize + 1, q->peer);
	cmd->cqe.result = ctrl->auth_required ? NVME_CONNECT_AUTHREQ_ATR : 0;
	return NVME_SC_SUCCESS; /* the queue keeps the lookup's reference */
out:
	tgt_ctrl_put(ctrl);
	return status;
}

/* The checks that need no subsystem: Connect data present, known format, NQNs terminated, SQSIZE. */
static uint16_t connect_check_fields(struct tgt_cmd *cmd, const struct nvmf_connect_data *d, char *subnqn,
				     char *hostnqn)
{
	const struct nvmf_connect_command *c = (const void *)&cmd->sqe;

	if (!d) {
		tr_warn("%s: Connect refused: no Connect data (%u bytes; %zu needed)", cmd->queue->peer,
			cmd->data_len, sizeof(*d));
		return NVME_SC_SGL_INVALID_DATA | NVME_SC_DNR;
	}
	if (c->recfmt != 0)
		return connect_refuse(cmd, NVME_SC_CONNECT_FORMAT, SQE_FIELD(recfmt), "record format %u", c->recfmt);
	if (!nqn_copy(subnqn, d->subsysnqn) || !subnqn[0])
		return connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, DATA_FIELD(subsysnqn),
				      "subsystem NQN empty or not NUL-terminated");
	if (!nqn_copy(hostnqn, d->hostnqn))
		return connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, DATA_FIELD(hostnqn),
				      "host NQN not NUL-terminated");
	/* Queue size: at least 2 entries (sqsize is 0-based), at most CAP.MQES + 1. */
	if (c->sqsize == 0 || c->sqsize >= TGT_MQES)
		return connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, SQE_FIELD(sqsize),
				      "SQSIZE %u outside 1..%u", c->sqsize, TGT_MQES - 1);
	return NVME_SC_SUCCESS;
}

static void fabrics_connect(struct tgt_cmd *cmd)
{
	const struct nvmf_connect_command *c = (const void *)&cmd->sqe;
	const struct nvmf_connect_data *d = tgt_cmd_connect_data(cmd);
	struct tgt_queue *q = cmd->queue;
	char subnqn[NVME_NQN_SIZE], hostnqn[NVME_NQN_SIZE];
	struct tgt_subsys *s;
	uint16_t status;
	bool allowed;

	status = connect_check_fields(cmd, d, subnqn, hostnqn);
	if (status)
		goto done;
	s = connect_find_subsys(q, subnqn);
	if (!s) {
		status = connect_refuse(cmd, NVME_SC_CONNECT_INVALID_PARAM, DATA_FIELD(subsysnqn),
					"unknown subsystem %s (host \"%s\")", subnqn, hostnqn);
		goto done;
	}
	/* A TLS session was opened for one host and subsystem: the Connect must be for those (the
	 * Linux 6.12 target lets such a session connect as any host; a PSK is a host's credential). */
	if (!tgt_tls_connect_ok(q, hostnqn, subnqn)) {
		status = connect_refuse(cmd, NVME_SC_CONNECT_INVALID_HOST, DATA_FIELD(hostnqn),
					"host \"%s\" for %s over a TLS session opened as \"%s\" for %s", hostnqn, subnqn,
					q->tls_hostnqn, q->tls_subnqn);
		goto done;
	}
	pthread_mutex_lock(&s->lock);
	allowed = tgt_subsys_host_allowed(s, hostnqn);
	pthread_mutex_unlock(&s->lock);
	if (!allowed) {
		status = connect_refuse(cmd, NVME_SC_CONNECT_INVALID_HOST, DATA_FIELD(hostnqn),
					"host \"%s\" is not allowed to connect to %s", hostnqn, s->nqn);
		goto done;
	}
	bool sqhd_disabled = c->cattr & NVMF_CONNECT_CATTR_DISABLE_SQFLOW;
	if (c->qid == 0)
		status = connect_admin(cmd, s, d, hostnqn, c->sqsize, c->kato, sqhd_disabled);
	else
		status = connect_io(cmd, s, d, hostnqn, c->qid, c->sqsize, sqhd_disabled);
done:
	tgt_cmd_complete(cmd, status);
}

static void fabrics_property_get(struct tgt_cmd *cmd)
{
	const struct nvmf_property_command *p = (const void *)&cmd->sqe;
	uint64_t value = 0;

	if (tgt_ctrl_property_get(cmd->queue->ctrl, p->offset, p->attrib & NVMF_PROP_ATTR_8BYTE, &value)) {
		tgt_cmd_complete(cmd, NVME_SC_INVALID_FIELD | NVME_SC_DNR);
		return;
	}
	cmd->cqe.result = value;
	tgt_cmd_complete(cmd, NVME_SC_SUCCESS);
}

static void fabrics_property_set(struct tgt_cmd *cmd)
{
	const struct nvmf_property_command *p = (const void *)&cmd->sqe;
	uint16_t status = NVME_SC_SUCCESS;

	if ((p->attrib & NVMF_PROP_ATTR_8BYTE) || tgt_ctrl_property_set(cmd->queue->ctrl, p->offset, p->value))
		status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
	tgt_cmd_complete(cmd, status);
}

static void fabrics_disconnect(struct tgt_cmd *cmd)
{
	/* The host closes the connection after our answer; closing first would lose the answer. */
	tgt_cmd_complete(cmd, NVME_SC_SUCCESS);
}

uint16_t tgt_parse_fabrics_cmd(struct tgt_cmd *cmd)
{
	const struct nvmf_common_command *c = (const void *)&cmd->sqe;
	struct tgt_queue *q = cmd->queue;

	if (c->fctype == nvmf_type_connect) {
		if (q->state != TGT_Q_CONNECTING)
			return NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
		cmd->execute = fabrics_connect;
		return 0;
	}
	/* Everything else needs a controller, and Property Get/Set only exist on the admin queue. */
	if (q->state != TGT_Q_LIVE || !q->ctrl)
		return NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
	/* Before the queue authenticated: only the authentication itself, and Disconnect. */
	if (!tgt_auth_queue_ready(q) && c->fctype != nvmf_type_auth_send && c->fctype != nvmf_type_auth_receive &&
	    c->fctype != nvmf_type_disconnect)
		return tgt_cmd_auth_required(cmd);
	switch (c->fctype) {
	case nvmf_type_auth_send:
	case nvmf_type_auth_receive:
		return tgt_parse_auth_cmd(cmd);
	case nvmf_type_property_get:
		if (!tgt_queue_is_admin(q))
			return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
		cmd->execute = fabrics_property_get;
		return 0;
	case nvmf_type_property_set:
		if (!tgt_queue_is_admin(q))
			return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
		cmd->execute = fabrics_property_set;
		return 0;
	case nvmf_type_disconnect:
		cmd->execute = fabrics_disconnect;
		return 0;
	default:
		tr_warn("%s: unsupported fabrics command type %#x", q->peer, c->fctype);
		return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
	}
}
