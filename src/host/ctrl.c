/* A host-side controller: admin queue bring-up (Connect, CC.EN, Identify, number of queues),
 * I/O queues, keep-alive at KATO/2 as the kernel host does, discovery, orderly shutdown. */
#include <errno.h>
#include <openssl/crypto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "host/auth.h"
#include "host/ioq.h"
#include "host/queue.h"
#include "host/tls_psk.h"
#include "tightrope/version.h"
#include "util/clock.h"
#include "util/log.h"

#define ADMIN_QUEUE_DEPTH 32 /* NVME_AQ_DEPTH */
/* The kernel host's shutdown_timeout (module parameter, default 5 s) and its ceiling for a
 * controller whose RTD3E asks for longer. */
#define SHUTDOWN_TIMEOUT_S 5
#define SHUTDOWN_TIMEOUT_MAX_S 60
#define HOST_MAX_XFER (1u << 20)
#define DISCOVERY_NQN "nqn.2014-08.org.nvmexpress.discovery"
#define CAUSE_LEN 160 /* a failed command's reason, copied out of the queue it came from */

/* A controller's life on the host side, changed only in ctrl_set_state(). Error recovery goes
 * back to DISCONNECTED and (re)connects from there, as the kernel's RESETTING/CONNECTING. */
enum ctrl_state {
	CTRL_NEW,
	CTRL_CONNECTING, /* admin queue: TCP, ICReq, Fabrics Connect */
	CTRL_ENABLING, /* CC.EN, CSTS.RDY, Identify */
	CTRL_IO_QUEUES, /* creating the I/O queues */
	CTRL_LIVE,
	CTRL_DISCONNECTED, /* queues closed (a failed bring-up, or error recovery) */
	CTRL_SHUTTING_DOWN, /* CC.SHN on the way out */
	CTRL_DELETED,
};

/* Marks an event as pending even when its result is 0; bit 31 of the result is reserved. */
#define AEN_PENDING (1u << 31)

struct tr_ctrl {
	enum ctrl_state state;
	char traddr[NVMF_TRADDR_SIZE + 1], trsvcid[NVMF_TRSVCID_SIZE + 1];
	char subnqn[NVME_NQN_SIZE], hostnqn[NVME_NQN_SIZE];
	struct tr_ctrl_opts opts; /* without the secrets: those are parsed into auth and tls_psk */
	struct host_auth auth;
	bool tls;
	struct ntls_psk tls_psk; /* the identity and TLS PSK for this host and subsystem */
	pthread_mutex_t admin_lock;
	struct hq *admin;
	uint16_t cntlid;
	uint32_t cc; /* as written to enable it: shutdown changes only SHN */
	struct nvme_id_ctrl id;
	uint32_t max_xfer;
	int nr_io;
	struct tr_ioq *ioqs;
	uint32_t poll_us; /* poll mode of the I/O queues, kept across reconnects */

	pthread_t ka_thread;
	bool ka_running;
	bool aer_armed;
	struct nvme_completion aer_cqe;
	_Atomic uint32_t aen_pending; /* AEN_PENDING | the event's result dword, 0 = none */
	pthread_mutex_t ka_lock;
	pthread_cond_t ka_cond;
	bool ka_stop;
};

static const char *ctrl_state_name(enum ctrl_state s)
{
	static const char *const names[] = { "new", "connecting", "enabling", "io-queues", "live", "disconnected",
					     "shutting-down", "deleted" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}

/* The one place a controller's state changes: the step must be one the bring-up, recovery or
 * shutdown sequence takes, and it is logged at debug level. */
static void ctrl_set_state(struct tr_ctrl *c, enum ctrl_state s)
{
	static const unsigned allowed[] = {
		[CTRL_NEW] = 1u << CTRL_CONNECTING,
		[CTRL_CONNECTING] = 1u << CTRL_ENABLING | 1u << CTRL_DISCONNECTED,
		[CTRL_ENABLING] = 1u << CTRL_IO_QUEUES | 1u << CTRL_LIVE | 1u << CTRL_DISCONNECTED,
		[CTRL_IO_QUEUES] = 1u << CTRL_LIVE | 1u << CTRL_DISCONNECTED,
		[CTRL_LIVE] = 1u << CTRL_DISCONNECTED | 1u << CTRL_SHUTTING_DOWN,
		[CTRL_DISCONNECTED] = 1u << CTRL_CONNECTING | 1u << CTRL_SHUTTING_DOWN | 1u << CTRL_DELETED,
		[CTRL_SHUTTING_DOWN] = 1u << CTRL_DELETED,
		[CTRL_DELETED] = 0,
	};

	if (c->state == s)
		return;
	if (!(allowed[c->state] & (1u << s)))
		tr_err("ctrl %u (%s): state %s -> %s is not a legal step", c->cntlid, c->subnqn,
		       ctrl_state_name(c->state), ctrl_state_name(s));
	tr_debug("ctrl %u (%s): %s -> %s", c->cntlid, c->subnqn, ctrl_state_name(c->state), ctrl_state_name(s));
	c->state = s;
}

void tr_ctrl_opts_init(struct tr_ctrl_opts *o)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	*o = (struct tr_ctrl_opts){ .trsvcid = "4420", .nr_io_queues = cpus > 0 ? (int)cpus : 1,
				    .queue_size = 128, .kato_s = 5, .cmd_timeout_ms = 30000,
				    .connect_timeout_ms = 10000 };
}

const char *tr_version(void)
{
	return TR_VERSION;
}

const char *tr_status_str(int status)
{
	if (status < 0)
		return strerror(-status);
	switch (nvme_status_code((uint16_t)status)) {
	case NVME_SC_SUCCESS: return "Success";
	case NVME_SC_INVALID_OPCODE: return "Invalid Command Opcode";
	case NVME_SC_INVALID_FIELD: return "Invalid Field in Command";
	case NVME_SC_DATA_XFER_ERROR: return "Data Transfer Error";
	case NVME_SC_INTERNAL: return "Internal Error";
	case NVME_SC_ABORT_REQ: return "Command Abort Requested";
	case NVME_SC_INVALID_NS: return "Invalid Namespace or Format";
	case NVME_SC_CMD_SEQ_ERROR: return "Command Sequence Error";
	case NVME_SC_LBA_RANGE: return "LBA Out of Range";
	case NVME_SC_NS_NOT_READY: return "Namespace Not Ready";
	case NVME_SC_WRITE_FAULT: return "Write Fault";
	case NVME_SC_READ_ERROR: return "Unrecovered Read Error";
	case NVME_SC_AUTH_REQUIRED: return "Authentication Required";
	case NVME_SC_NS_WRITE_PROTECTED: return "Namespace is Write Protected";
	case NVME_SC_TRANSIENT_TR_ERR: return "Transient Transport Error";
	case NVME_SC_CONNECT_INVALID_PARAM: return "Connect Invalid Parameters";
	case NVME_SC_CONNECT_INVALID_HOST: return "Connect Invalid Host";
	case NVME_SC_CONNECT_CTRL_BUSY: return "Connect Controller Busy";
	case NVME_SC_ANA_PERSISTENT_LOSS: return "ANA Persistent Loss";
	case NVME_SC_ANA_INACCESSIBLE: return "ANA Inaccessible";
	case NVME_SC_ANA_TRANSITION: return "ANA Transition";
	case NVME_SC_HOST_PATH_ERROR: return "Host Path Error";
	default: return "Unknown status";
	}
}

/* A failed admin command in words: when the queue itself broke (-errno), its own reason ("malformed
 * PDU ...: bad hlen 25") says far more than "Protocol error"; otherwise the NVMe status. */
static const char *admin_failure(const struct tr_ctrl *c, int status)
{
	if (status < 0 && c->admin && hq_why(c->admin)[0])
		return hq_why(c->admin);
	return tr_status_str(status);
}

/* A failed queue's reason, or its errno's when it gave none. */
static const char *queue_failure(const struct hq *q)
{
	return hq_why(q)[0] ? hq_why(q) : strerror(-hq_error(q));
}

/* timeout_ms: 0 for the queue's command timeout. */
static int prop_get(struct hq *q, uint32_t offset, bool wide, uint64_t *value, uint32_t timeout_ms)
{
	struct nvmf_property_command c = { .opcode = nvme_admin_fabrics, .fctype = nvmf_type_property_get,
					   .attrib = wide, .offset = offset };
	struct nvme_completion cqe = { 0 };
	int status = hq_exec_tmo(q, (struct nvme_command *)&c, NULL, 0, &cqe, timeout_ms);

	*value = cqe.result;
	return status;
}

static int prop_set(struct hq *q, uint32_t offset, uint32_t value, uint32_t timeout_ms)
{
	struct nvmf_property_command c = { .opcode = nvme_admin_fabrics, .fctype = nvmf_type_property_set,
					   .offset = offset, .value = value };

	return hq_exec_tmo(q, (struct nvme_command *)&c, NULL, 0, NULL, timeout_ms);
}

static int admin_exec(struct tr_ctrl *c, struct nvme_command *cmd, void *data, uint32_t len,
		      struct nvme_completion *cqe)
{
	int status;

	pthread_mutex_lock(&c->admin_lock);
	status = hq_exec(c->admin, cmd, data, len, cqe);
	pthread_mutex_unlock(&c->admin_lock);
	return status;
}

int tr_ctrl_admin(struct tr_ctrl *c, struct nvme_command *cmd, void *data, uint32_t len,
		  struct nvme_completion *cqe)
{
	return admin_exec(c, cmd, data, len, cqe);
}

int tr_ctrl_identify(struct tr_ctrl *c, uint8_t cns, uint32_t nsid, void *buf4k)
{
	struct nvme_command cmd = { .opcode = nvme_admin_identify, .nsid = nsid, .cdw10 = cns };

	return admin_exec(c, &cmd, buf4k, 4096, NULL);
}

int tr_ctrl_get_log(struct tr_ctrl *c, uint8_t lid, uint32_t nsid, void *buf, uint32_t len)
{
	/* Large logs come in MDTS-sized pieces at increasing offsets (LPOL/LPOU). */
	for (uint32_t off = 0; off < len;) {
		uint32_t chunk = len - off < c->max_xfer ? len - off : c->max_xfer;
		uint32_t numd = chunk / 4 - 1;
		struct nvme_command cmd = { .opcode = nvme_admin_get_log_page, .nsid = nsid,
					    .cdw10 = lid | (numd & 0xffff) << 16, .cdw11 = numd >> 16,
					    .cdw12 = off };
		int status = admin_exec(c, &cmd, (uint8_t *)buf + off, chunk, NULL);

		if (status)
			return status;
		off += chunk;
	}
	return 0;
}

static void *keep_alive_main(void *arg)
{
	struct tr_ctrl *c = arg;
	struct timespec next;

	clock_gettime(CLOCK_MONOTONIC, &next);
	pthread_mutex_lock(&c->ka_lock);
	while (!c->ka_stop) {
		uint64_t half = (uint64_t)c->opts.kato_s * 500000000ull;

		next.tv_sec += (time_t)(half / 1000000000ull);
		next.tv_nsec += (long)(half % 1000000000ull);
		if (next.tv_nsec >= 1000000000L)
			next.tv_sec++, next.tv_nsec -= 1000000000L;
		while (!c->ka_stop && pthread_cond_timedwait(&c->ka_cond, &c->ka_lock, &next) != ETIMEDOUT)
			;
		if (c->ka_stop)
			break;
		pthread_mutex_unlock(&c->ka_lock);
		{
			/* A Keep Alive unanswered within KATO means the path is dead, whatever TCP thinks. */
			struct nvme_command cmd = { .opcode = nvme_admin_keep_alive };
			uint32_t kato_ms = (uint32_t)c->opts.kato_s * 1000;
			char cause[CAUSE_LEN] = "";
			uint64_t sent;
			bool was_down, ka_expired;
			int status;

			pthread_mutex_lock(&c->admin_lock);
			was_down = hq_error(c->admin) != 0;
			sent = tr_now_ns();
			status = was_down ? 0 : hq_exec_tmo(c->admin, &cmd, NULL, 0, NULL, kato_ms);
			/* Admin commands run one at a time and the AER has no deadline, so a timeout once KATO
			 * has passed is the Keep Alive's own (a socket's ETIMEDOUT sooner is not). */
			ka_expired = status == -ETIMEDOUT && tr_now_ns() - sent >= (uint64_t)kato_ms * 1000000ull;
			/* Copied under the lock: a reconnect may free the queue the reason lives in. */
			if (status && status != -ESHUTDOWN && !ka_expired)
				snprintf(cause, sizeof(cause), "%s", admin_failure(c, status));
			pthread_mutex_unlock(&c->admin_lock);
			/* In the KATO that fired, not the queue's default command timeout. */
			if (ka_expired)
				tr_warn("ctrl %u (%s): keep alive command timed out after %u ms (KATO %d s)", c->cntlid,
					c->subnqn, kato_ms, c->opts.kato_s);
			else if (cause[0])
				tr_warn("ctrl %u (%s): keep-alive failed: %s", c->cntlid, c->subnqn, cause);
		}
		pthread_mutex_lock(&c->ka_lock);
	}
	pthread_mutex_unlock(&c->ka_lock);
	return NULL;
}

static int enable_ctrl(struct tr_ctrl *c, char *why, size_t whylen)
{
	uint64_t cap = 0, csts = 0;
	uint64_t deadline;
	int status = prop_get(c->admin, NVME_REG_CAP, true, &cap, 0);

	c->cc = NVME_CC_ENABLE | 6u << 16 | 4u << 20; /* 64-byte SQEs, 16-byte CQEs, 4 KiB pages, NVM */
	if (!status)
		status = prop_set(c->admin, NVME_REG_CC, c->cc, 0);
	/* CAP.TO is in 500 ms units: how long the controller may take to become ready. */
	deadline = tr_now_ns() + ((cap >> 24) & 0xff) * 500000000ull + 1000000000ull;
	while (!status) {
		status = prop_get(c->admin, NVME_REG_CSTS, false, &csts, 0);
		if (status || (csts & NVME_CSTS_RDY))
			break;
		if (csts & NVME_CSTS_CFS || tr_now_ns() > deadline) {
			snprintf(why, whylen, "controller %u of %s did not become ready (CSTS %#llx)", c->cntlid,
				 c->subnqn, (unsigned long long)csts);
			return -ETIMEDOUT;
		}
		usleep(10000);
	}
	if (status)
		snprintf(why, whylen, "enabling controller %u of %s: %s", c->cntlid, c->subnqn, admin_failure(c, status));
	return status;
}

static int open_queue(struct tr_ctrl *c, uint16_t qid, uint16_t depth, uint32_t kato_ms, struct hq **out,
		      char *why, size_t whylen)
{
	struct hq_params p = { .traddr = c->traddr, .trsvcid = c->trsvcid, .qid = qid, .depth = depth,
			       .hdgst = c->opts.hdr_digest, .ddgst = c->opts.data_digest,
			       .timeout_ms = (uint32_t)c->opts.cmd_timeout_ms,
			       .connect_timeout_ms = (uint32_t)c->opts.connect_timeout_ms,
			       .tls = c->tls ? &c->tls_psk : NULL };
	struct hq *q = hq_open(&p, why, whylen);
	uint32_t result = 0;
	int status;

	if (!q)
		return -ECONNREFUSED;
	/* As the kernel host: SQ flow control is only ever disabled on I/O queues, and only on request. */
	status = hq_fabrics_connect(q, c->subnqn, c->hostnqn, c->opts.hostid, qid ? c->cntlid : NVME_CNTLID_DYNAMIC,
				    kato_ms, qid && c->opts.disable_sqflow ? NVMF_TREQ_DISABLE_SQFLOW : 0, &result,
				    why, whylen);
	/* Every queue whose Connect asks authenticates before it carries anything else, each in a
	 * transaction of its own. A discovery controller may leave it out (Linux's always does). */
	if (!status)
		status = host_auth_queue(&c->auth, q, result, !strcmp(c->subnqn, DISCOVERY_NQN), c->hostnqn, c->subnqn,
					 why, whylen);
	if (status) {
		hq_close(q);
		return status;
	}
	if (qid == 0)
		c->cntlid = (uint16_t)result;
	*out = q;
	return 0;
}

static int setup_io_queues(struct tr_ctrl *c, char *why, size_t whylen)
{
	int want = c->opts.nr_io_queues, status;
	struct nvme_completion cqe = { 0 };
	struct nvme_command cmd = { .opcode = nvme_admin_set_features, .cdw10 = NVME_FEAT_NUM_QUEUES,
				    .cdw11 = (uint32_t)(want - 1) | (uint32_t)(want - 1) << 16 };
	uint32_t inline_max = 0;

	if (want <= 0)
		return 0;
	status = admin_exec(c, &cmd, NULL, 0, &cqe);
	if (status) {
		snprintf(why, whylen, "Set Features (number of queues): %s", admin_failure(c, status));
		return status;
	}
	/* The controller grants 0-based counts for submission and completion queues. */
	if ((int)(cqe.result & 0xffff) + 1 < want)
		want = (int)(cqe.result & 0xffff) + 1;
	if ((int)((cqe.result >> 16) & 0xffff) + 1 < want)
		want = (int)((cqe.result >> 16) & 0xffff) + 1;
	/* Use the controller's whole in-capsule size, as the kernel host does: Linux nvmet
	 * never sends R2T for a write that fits its advertised IOCCSZ. */
	if (c->id.ioccsz * 16 > sizeof(struct nvme_command))
		inline_max = c->id.ioccsz * 16 - (uint32_t)sizeof(struct nvme_command);
	c->ioqs = calloc((size_t)want, sizeof(*c->ioqs));
	if (!c->ioqs)
		return -ENOMEM;
	for (int i = 0; i < want; i++) {
		int depth = c->opts.queue_size;

		if (c->id.maxcmd && depth > c->id.maxcmd)
			depth = c->id.maxcmd;
		status = open_queue(c, (uint16_t)(i + 1), (uint16_t)depth, 0, &c->ioqs[i].hq, why, whylen);
		if (status)
			return status;
		hq_set_inline_max(c->ioqs[i].hq, inline_max);
		hq_set_poll_us(c->ioqs[i].hq, c->poll_us);
		c->ioqs[i].ctrl = c;
		c->nr_io = i + 1;
	}
	return 0;
}

/* First on every teardown, as the kernel's nvme_stop_keep_alive: once the thread is joined no Keep
 * Alive is in flight (it runs them to completion, at most KATO) and none can follow, whatever the
 * admin queue carries next. */
static void stop_keep_alive(struct tr_ctrl *c)
{
	if (!c->ka_running)
		return;
	pthread_mutex_lock(&c->ka_lock);
	c->ka_stop = true;
	pthread_cond_signal(&c->ka_cond);
	pthread_mutex_unlock(&c->ka_lock);
	pthread_join(c->ka_thread, NULL);
	c->ka_running = false;
	c->ka_stop = false;
}

static void close_io_queues(struct tr_ctrl *c)
{
	for (int i = 0; i < c->nr_io; i++)
		hq_close(c->ioqs[i].hq);
	free(c->ioqs);
	c->ioqs = NULL;
	c->nr_io = 0;
}

static void close_admin_queue(struct tr_ctrl *c)
{
	pthread_mutex_lock(&c->admin_lock);
	hq_close(c->admin);
	c->admin = NULL;
	c->aer_armed = false;
	pthread_mutex_unlock(&c->admin_lock);
}

/* Stop keep-alive and close every queue; outstanding commands complete with an error. No CC write:
 * this is error recovery's teardown (as the kernel's), and a dead path could not answer one. */
void tr_ctrl_teardown(struct tr_ctrl *c)
{
	stop_keep_alive(c);
	close_io_queues(c);
	close_admin_queue(c);
	if (c->state != CTRL_NEW && c->state != CTRL_SHUTTING_DOWN && c->state != CTRL_DELETED)
		ctrl_set_state(c, CTRL_DISCONNECTED);
}

/* How long a shutdown may take: the kernel's shutdown_timeout, or the controller's RTD3E (in
 * microseconds) where that is longer, up to 60 s. */
static uint32_t shutdown_timeout_s(const struct tr_ctrl *c)
{
	uint32_t s = c->id.rtd3e / 1000000;

	return s < SHUTDOWN_TIMEOUT_S ? SHUTDOWN_TIMEOUT_S : s > SHUTDOWN_TIMEOUT_MAX_S ? SHUTDOWN_TIMEOUT_MAX_S : s;
}

/* Normal shutdown, as the kernel host's nvme_disable_ctrl(ctrl, true): CC as enabled with SHN = 01b
 * (EN stays set), then CSTS until SHST reads 10b. Everything, the Property Set and each Get, fits
 * in the shutdown timeout, so a target that never completes it (or never answers) costs that long
 * and one line, not a hang. Called with admin_lock held on a live admin queue. */
static void shutdown_ctrl(struct tr_ctrl *c)
{
	uint32_t tmo_s = shutdown_timeout_s(c);
	uint64_t deadline = tr_now_ns() + (uint64_t)tmo_s * 1000000000ull, now;
	uint64_t csts = 0;
	int status;

	ctrl_set_state(c, CTRL_SHUTTING_DOWN);
	status = prop_set(c->admin, NVME_REG_CC, (c->cc & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL, tmo_s * 1000);
	while (!status) {
		now = tr_now_ns();
		if (now >= deadline) {
			tr_warn("ctrl %u (%s): Device not ready; aborting shutdown, CSTS=0x%llx (SHST not 10b after %u s)",
				c->cntlid, c->subnqn, (unsigned long long)csts, tmo_s);
			return;
		}
		status = prop_get(c->admin, NVME_REG_CSTS, false, &csts, (uint32_t)((deadline - now + 999999) / 1000000));
		if (!status && (csts & NVME_CSTS_SHST_MASK) == NVME_CSTS_SHST_CMPLT)
			return;
		if (!status)
			usleep(10000); /* each poll is a round trip already; most targets are done at the first */
	}
	tr_warn("ctrl %u (%s): shutdown: %s", c->cntlid, c->subnqn, admin_failure(c, status));
}

static void free_ctrl(struct tr_ctrl *c)
{
	tr_ctrl_teardown(c);
	if (c->state != CTRL_NEW)
		ctrl_set_state(c, CTRL_DELETED);
	host_auth_clear(&c->auth);
	OPENSSL_cleanse(&c->tls_psk, sizeof(c->tls_psk));
	pthread_mutex_destroy(&c->admin_lock);
	pthread_mutex_destroy(&c->ka_lock);
	pthread_cond_destroy(&c->ka_cond);
	free(c);
}

/* Admin queue, enable, Identify, I/O queues, keep-alive: the first connect and every reconnect. */
static int ctrl_bringup(struct tr_ctrl *c, bool discovery, char *why, size_t whylen)
{
	int status;

	ctrl_set_state(c, CTRL_CONNECTING);
	status = open_queue(c, 0, ADMIN_QUEUE_DEPTH, discovery ? 0 : (uint32_t)c->opts.kato_s * 1000, &c->admin, why,
			    whylen);
	if (!status) {
		ctrl_set_state(c, CTRL_ENABLING);
		status = enable_ctrl(c, why, whylen);
	}
	if (!status) {
		status = tr_ctrl_identify(c, NVME_ID_CNS_CTRL, 0, &c->id);
		if (status)
			snprintf(why, whylen, "Identify Controller: %s", admin_failure(c, status));
	}
	if (!status) {
		/* MDTS is a power of two in units of the minimum page size (4 KiB here). */
		c->max_xfer = c->id.mdts && c->id.mdts < 9 ? 4096u << c->id.mdts : HOST_MAX_XFER;
		if (c->max_xfer > HOST_MAX_XFER)
			c->max_xfer = HOST_MAX_XFER;
		if (!discovery) {
			ctrl_set_state(c, CTRL_IO_QUEUES);
			status = setup_io_queues(c, why, whylen);
		}
	}
	if (!status && !discovery && (c->id.oaes & (NVME_CTRL_OAES_NS_ATTR | NVME_CTRL_OAES_ANA_CHANGE))) {
		/* Namespace attribute and ANA change notices are off until asked for (the kernel host asks
		 * for those OAES advertises); without them a namespace added or removed, or an ANA group
		 * changing state, would go unnoticed. Not fatal if refused. */
		uint32_t cfg = c->id.oaes & (NVME_AEN_CFG_NS_ATTR | NVME_AEN_CFG_ANA_CHANGE);
		struct nvme_command cmd = { .opcode = nvme_admin_set_features, .cdw10 = NVME_FEAT_ASYNC_EVENT,
					    .cdw11 = cfg };
		int aen_status = admin_exec(c, &cmd, NULL, 0, NULL);

		if (aen_status)
			tr_warn("ctrl %u (%s): failed to configure AEN (cfg %#x): %s", c->cntlid, c->subnqn, cfg,
				admin_failure(c, aen_status));
	}
	if (!status && !discovery && c->opts.kato_s > 0)
		c->ka_running = pthread_create(&c->ka_thread, NULL, keep_alive_main, c) == 0;
	if (status)
		tr_ctrl_teardown(c);
	else
		ctrl_set_state(c, CTRL_LIVE);
	return status < 0 ? status : status ? -EREMOTEIO : 0;
}

static int ctrl_connect(const struct tr_ctrl_opts *o, bool discovery, struct tr_ctrl **out, char *why,
			size_t whylen)
{
	struct tr_ctrl *c = calloc(1, sizeof(*c));
	pthread_condattr_t ca;
	int status;

	if (!c)
		return -ENOMEM;
	c->opts = *o;
	snprintf(c->traddr, sizeof(c->traddr), "%s", o->traddr ? o->traddr : "");
	snprintf(c->trsvcid, sizeof(c->trsvcid), "%s", o->trsvcid ? o->trsvcid : "4420");
	snprintf(c->subnqn, sizeof(c->subnqn), "%s", discovery ? DISCOVERY_NQN : o->subnqn ? o->subnqn : "");
	snprintf(c->hostnqn, sizeof(c->hostnqn), "%s", o->hostnqn ? o->hostnqn : "");
	pthread_mutex_init(&c->admin_lock, NULL);
	pthread_mutex_init(&c->ka_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->ka_cond, &ca);
	pthread_condattr_destroy(&ca);
	c->max_xfer = 4096;
	/* The secrets, parsed once for every reconnect; the caller's strings are not kept. */
	status = host_auth_init(&c->auth, o->dhchap_secret, o->dhchap_ctrl_secret, c->hostnqn, c->subnqn, why,
				whylen);
	c->opts.dhchap_secret = c->opts.dhchap_ctrl_secret = NULL;
	c->tls = o->tls || o->tls_key;
	if (!status && c->tls)
		status = host_tls_psk(o->tls_key, c->hostnqn, c->subnqn, &c->tls_psk, why, whylen);
	c->opts.tls_key = NULL;
	if (!status)
		status = ctrl_bringup(c, discovery, why, whylen);
	if (status) {
		free_ctrl(c);
		return status;
	}
	*out = c;
	return 0;
}

int tr_ctrl_reconnect(struct tr_ctrl *c, char *why, size_t whylen)
{
	tr_ctrl_teardown(c);
	return ctrl_bringup(c, false, why, whylen);
}

int tr_ctrl_health(struct tr_ctrl *c, char *why, size_t whylen)
{
	int err = 0;

	pthread_mutex_lock(&c->admin_lock);
	if (!c->admin)
		err = -ENOTCONN, snprintf(why, whylen, "not connected");
	else if (hq_error(c->admin))
		err = hq_error(c->admin), snprintf(why, whylen, "admin queue: %s", queue_failure(c->admin));
	pthread_mutex_unlock(&c->admin_lock);
	for (int i = 0; !err && i < c->nr_io; i++) {
		if (hq_error(c->ioqs[i].hq)) {
			err = hq_error(c->ioqs[i].hq);
			snprintf(why, whylen, "I/O queue %d: %s", i + 1, queue_failure(c->ioqs[i].hq));
		}
	}
	return err;
}

static void aer_done(void *arg, int status)
{
	struct tr_ctrl *c = arg;

	c->aer_armed = false;
	if (status == 0)
		atomic_store(&c->aen_pending, (uint32_t)c->aer_cqe.result | AEN_PENDING);
}

int tr_ctrl_poll_admin(struct tr_ctrl *c, uint32_t *aen)
{
	int err = 0;
	uint32_t ev;

	if (pthread_mutex_trylock(&c->admin_lock))
		return 0; /* keep-alive is on it; it runs completions too */
	if (c->admin && !hq_error(c->admin)) {
		if (!c->aer_armed && c->opts.kato_s >= 0) {
			struct nvme_command cmd = { .opcode = nvme_admin_async_event };

			/* An Asynchronous Event Request waits for as long as it takes: no timeout. */
			if (hq_submit_tmo(c->admin, &cmd, NULL, 0, aer_done, c, &c->aer_cqe, HQ_NO_TIMEOUT) == 0)
				c->aer_armed = true;
		}
		err = hq_poll(c->admin, 0);
	}
	pthread_mutex_unlock(&c->admin_lock);
	ev = atomic_exchange(&c->aen_pending, 0);
	if (ev) {
		*aen = ev & ~AEN_PENDING;
		return 1;
	}
	return err < 0 ? err : 0;
}

int tr_ctrl_active_ns(struct tr_ctrl *c, uint32_t *nsids, int max)
{
	uint32_t *list = aligned_alloc(4096, 4096);
	int n = 0, status;

	if (!list)
		return -ENOMEM;
	status = tr_ctrl_identify(c, NVME_ID_CNS_NS_ACTIVE_LIST, 0, list);
	for (int i = 0; !status && i < 1024 && list[i] && n < max; i++)
		nsids[n++] = list[i];
	free(list);
	return status ? (status < 0 ? status : -EREMOTEIO) : n;
}

int tr_ctrl_ns_geometry(struct tr_ctrl *c, uint32_t nsid, uint64_t *nr_blocks, uint32_t *lba_size)
{
	struct nvme_id_ns *id = malloc(sizeof(*id));
	int status;

	if (!id)
		return -ENOMEM;
	status = tr_ctrl_identify(c, NVME_ID_CNS_NS, nsid, id);
	if (!status) {
		uint8_t ds = id->lbaf[id->flbas & 0xf].ds; /* log2 of the data size of the format in use */

		/* An inactive NSID identifies as all zeros; a data size under 512 bytes is no LBA format. */
		if (id->nsze == 0)
			status = -ENOENT;
		else if (ds < 9 || ds > 31)
			status = -EPROTO;
		else
			*nr_blocks = id->nsze, *lba_size = 1u << ds;
	}
	free(id);
	return status;
}

int tr_ctrl_connect(const struct tr_ctrl_opts *o, struct tr_ctrl **out, char *why, size_t whylen)
{
	if (!o->traddr || !o->subnqn || !o->hostnqn) {
		snprintf(why, whylen, "traddr, subnqn and hostnqn are required");
		return -EINVAL;
	}
	return ctrl_connect(o, false, out, why, whylen);
}

/* The kernel host's order on a normal disconnect (nvme_stop_ctrl, then nvme_tcp_teardown_ctrl with
 * shutdown): keep-alive stopped, the I/O queues gone, the controller shut down through the admin
 * queue so the target flushes, the admin queue closed last. A Keep Alive after CC.SHN is a command to
 * a controller that is shutting down (SPDK answers Command Sequence Error). The handshake needs a
 * live admin queue: on a failed one (or none, between reconnects) there is nobody to answer it. */
void tr_ctrl_disconnect(struct tr_ctrl *c)
{
	if (!c)
		return;
	stop_keep_alive(c);
	close_io_queues(c);
	pthread_mutex_lock(&c->admin_lock);
	if (c->admin && !hq_error(c->admin))
		shutdown_ctrl(c);
	pthread_mutex_unlock(&c->admin_lock);
	free_ctrl(c);
}

const struct nvme_id_ctrl *tr_ctrl_identify_data(const struct tr_ctrl *c)
{
	return &c->id;
}

uint16_t tr_ctrl_cntlid(const struct tr_ctrl *c)
{
	return c->cntlid;
}

int tr_ctrl_nr_io_queues(const struct tr_ctrl *c)
{
	return c->nr_io;
}

uint32_t tr_ctrl_max_xfer(const struct tr_ctrl *c)
{
	return c->max_xfer;
}

void tr_ctrl_set_poll_us(struct tr_ctrl *c, uint32_t poll_us)
{
	c->poll_us = poll_us;
	for (int i = 0; i < c->nr_io; i++)
		hq_set_poll_us(c->ioqs[i].hq, poll_us);
}

enum tr_auth tr_ctrl_auth(const struct tr_ctrl *c)
{
	return c->auth.ctrl_authenticated ? TR_AUTH_DHCHAP_BIDI : c->auth.authenticated ? TR_AUTH_DHCHAP : TR_AUTH_NONE;
}

int tr_discover(const struct tr_ctrl_opts *o, struct nvmf_disc_log_entry **entries, uint64_t *nr,
		uint64_t *genctr, char *why, size_t whylen)
{
	struct tr_ctrl *c;
	struct nvmf_disc_log_header *hdr = NULL;
	int status = ctrl_connect(o, true, &c, why, whylen);

	if (status)
		return status;
	/* Read the header, then the whole log; retry if the generation moved in between. */
	for (int attempt = 0; attempt < 3; attempt++) {
		struct nvmf_disc_log_header head;
		uint64_t n;
		size_t len;

		status = tr_ctrl_get_log(c, NVME_LOG_DISC, 0, &head, sizeof(head));
		if (status)
			break;
		n = head.numrec;
		if (n > 1024) {
			snprintf(why, whylen, "discovery log claims %llu records", (unsigned long long)n);
			status = -EPROTO;
			break;
		}
		len = sizeof(head) + n * sizeof(struct nvmf_disc_log_entry);
		free(hdr);
		hdr = malloc(len);
		if (!hdr) {
			status = -ENOMEM;
			break;
		}
		status = tr_ctrl_get_log(c, NVME_LOG_DISC, 0, hdr, (uint32_t)len);
		if (status)
			break;
		if (hdr->genctr != head.genctr || hdr->numrec != n)
			continue;
		*entries = malloc(n * sizeof(**entries) + 1);
		if (!*entries) {
			status = -ENOMEM;
			break;
		}
		memcpy(*entries, hdr + 1, n * sizeof(**entries));
		*nr = n;
		*genctr = hdr->genctr;
		free(hdr);
		tr_ctrl_disconnect(c);
		return 0;
	}
	if (status && !why[0])
		snprintf(why, whylen, "Get Log Page (discovery): %s", admin_failure(c, status));
	else if (!status)
		snprintf(why, whylen, "discovery log kept changing"), status = -EAGAIN;
	free(hdr);
	tr_ctrl_disconnect(c);
	return status;
}

/* ---- I/O ---- */

struct tr_ioq *tr_ctrl_ioq(struct tr_ctrl *c, int index)
{
	return index >= 0 && index < c->nr_io ? &c->ioqs[index] : NULL;
}
