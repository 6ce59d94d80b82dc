/* Admin commands of an I/O controller: Identify, Get Log Page, Get/Set Features, Keep Alive,
 * Asynchronous Event Request and Abort. Discovery controllers reuse a subset (discovery.c). */
#include <stdlib.h>
#include <string.h>

#include "nvme/identify.h"
#include "target/cmd.h"
#include "target/resv.h"
#include "util/log.h"

#define TGT_FIRMWARE_REV "0.1.0"
#define TGT_TEMP_THRESH_K 343 /* the over-temperature threshold Get Features reports */
#define TGT_TEMPERATURE_K 321 /* 48 C: a plausible figure for a device with no sensor */
/* SMART data units are thousands of 512-byte units. */
#define SMART_DATA_UNIT_BYTES 512
#define SMART_DATA_UNIT_COUNT 1000

uint32_t tgt_cmd_log_len(const struct tgt_cmd *cmd)
{
	uint32_t numd = NVME_LOG_NUMD(cmd->sqe.cdw10, cmd->sqe.cdw11);

	return (numd + 1) * (uint32_t)sizeof(uint32_t);
}

uint64_t tgt_cmd_log_offset(const struct tgt_cmd *cmd)
{
	return cmd->sqe.cdw12 | ((uint64_t)cmd->sqe.cdw13 << 32);
}

void tgt_admin_keep_alive(struct tgt_cmd *cmd)
{
	/* Every command already refreshed the timer (TBKAS); this one only has to answer. */
	tgt_cmd_complete(cmd, NVME_SC_SUCCESS);
}

static void id_ctrl_facts(struct tgt_ctrl *ctrl, struct nvme_ctrl_facts *f)
{
	struct tgt_subsys *s = ctrl->subsys;

	memset(f, 0, sizeof(*f));
	f->serial = s->serial;
	f->model = s->model;
	f->firmware = TGT_FIRMWARE_REV;
	f->subnqn = s->nqn;
	f->cntlid = ctrl->cntlid;
	f->discovery = s->discovery;
	f->version = NVME_VS(1, 3, 0);
	f->mdts = TGT_MDTS;
	f->max_nsid = TGT_MAX_NSID;
	f->inline_data_size = TGT_INLINE_DATA_SIZE;
	f->maxcmd = TGT_MQES;
	f->aerl = TGT_AERL;
	f->kas = TGT_KAS;
	f->volatile_write_cache = true;
	f->ana = !s->discovery;
	f->anagrpmax = TGT_MAX_ANAGRPS;
	f->anatt = TGT_ANATT;
}

static void ns_facts(const struct tgt_ns *ns, struct nvme_ns_facts *f)
{
	memset(f, 0, sizeof(*f));
	f->nlbas = ns->nlbas;
	f->lba_shift = ns->lba_shift;
	f->readonly = ns->readonly;
	f->deallocate = true;
	f->anagrpid = ns->anagrpid;
	memcpy(f->nguid, ns->nguid, sizeof(f->nguid));
	memcpy(f->eui64, ns->eui64, sizeof(f->eui64));
	memcpy(f->uuid, ns->uuid, sizeof(f->uuid));
	f->ptpl = tgt_resv_store_available();
}

void tgt_admin_identify(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;
	uint8_t cns = NVME_IDENTIFY_CNS(cmd->sqe.cdw10);
	uint8_t csi = NVME_IDENTIFY_CSI(cmd->sqe.cdw11);
	uint32_t nsid = cmd->sqe.nsid;
	uint8_t *page = calloc(1, NVME_IDENTIFY_DATA_SIZE);
	struct nvme_ctrl_facts cf;
	struct nvme_ns_facts nf;
	struct tgt_ns *ns;
	uint16_t status = NVME_SC_SUCCESS;

	if (!page) {
		tgt_cmd_complete(cmd, NVME_SC_INTERNAL);
		return;
	}
	switch (cns) {
	case NVME_ID_CNS_CTRL:
		id_ctrl_facts(q->ctrl, &cf);
		nvme_id_ctrl_build((struct nvme_id_ctrl *)page, &cf);
		break;
	case NVME_ID_CNS_NS:
		if (nsid == 0 || nsid == NVME_NSID_ALL) {
			status = NVME_SC_INVALID_NS | NVME_SC_DNR;
			break;
		}
		/* An inactive NSID reads as zeros: the host takes nsze 0 as "namespace gone". */
		ns = tgt_queue_ns(q, nsid);
		if (ns) {
			ns_facts(ns, &nf);
			nvme_id_ns_build((struct nvme_id_ns *)page, &nf);
		}
		break;
	case NVME_ID_CNS_NS_ACTIVE_LIST: {
		uint32_t *list = (uint32_t *)page, n = 0;

		/* The list starts after nsid: none can follow the last two NSIDs. */
		if (nsid >= NVME_NSID_ALL - 1) {
			status = NVME_SC_INVALID_NS | NVME_SC_DNR;
			break;
		}
		for (uint32_t i = nsid + 1; i <= TGT_MAX_NSID && n < NVME_ID_NS_LIST_MAX; i++) {
			if (tgt_queue_ns(q, i))
				list[n++] = i;
		}
		break;
	}
	case NVME_ID_CNS_NS_DESC_LIST:
		ns = tgt_queue_ns(q, nsid);
		if (!ns) {
			status = NVME_SC_INVALID_NS | NVME_SC_DNR;
			break;
		}
		ns_facts(ns, &nf);
		nvme_ns_desc_list_build(page, NVME_IDENTIFY_DATA_SIZE, &nf);
		break;
	case NVME_ID_CNS_CS_NS:
		/* NVM command set specific data has nothing we use: zeros, as the Linux target. */
		if (csi != NVME_CSI_NVM)
			status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
		else if (!tgt_queue_ns(q, nsid))
			status = NVME_SC_INVALID_NS | NVME_SC_DNR;
		break;
	case NVME_ID_CNS_CS_CTRL:
		if (csi != NVME_CSI_NVM)
			status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
		break;
	default:
		status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
		break;
	}
	if (!status)
		status = tgt_cmd_reply(cmd, page, NVME_IDENTIFY_DATA_SIZE);
	free(page);
	tgt_cmd_complete(cmd, status);
}

static uint16_t log_changed_ns(struct tgt_cmd *cmd, uint8_t *page)
{
	struct tgt_ctrl *ctrl = cmd->queue->ctrl;
	struct nvme_changed_ns_log *log = (struct nvme_changed_ns_log *)page;
	bool retain = cmd->sqe.cdw10 & NVME_LOG_RAE;

	pthread_mutex_lock(&ctrl->lock);
	if (ctrl->nr_changed_ns > NVME_CHANGED_NS_MAX)
		log->nsid[0] = NVME_CHANGED_NS_OVERFLOW;
	else
		memcpy(log->nsid, ctrl->changed_ns, ctrl->nr_changed_ns * sizeof(uint32_t));
	/* Reading without RAE consumes the list and re-arms namespace notices. */
	if (!retain) {
		ctrl->nr_changed_ns = 0;
		ctrl->aen_masked &= ~TGT_AEN_NS_CHANGED;
	}
	pthread_mutex_unlock(&ctrl->lock);
	if (!retain)
		tgt_ctrl_deliver_aens(ctrl);
	return sizeof(*log);
}

static uint16_t log_cmd_effects(uint8_t *page)
{
	struct nvme_effects_log *log = (struct nvme_effects_log *)page;
	static const uint8_t admin[] = { nvme_admin_get_log_page, nvme_admin_identify, nvme_admin_abort_cmd,
					 nvme_admin_set_features, nvme_admin_get_features,
					 nvme_admin_async_event, nvme_admin_keep_alive };
	static const uint8_t io_read[] = { nvme_cmd_flush, nvme_cmd_read, nvme_cmd_compare, nvme_cmd_resv_register,
					   nvme_cmd_resv_report, nvme_cmd_resv_acquire, nvme_cmd_resv_release };
	static const uint8_t io_write[] = { nvme_cmd_write, nvme_cmd_write_zeroes, nvme_cmd_dsm };

	for (size_t i = 0; i < sizeof(admin); i++)
		log->acs[admin[i]] = NVME_CMD_EFFECTS_CSUPP;
	for (size_t i = 0; i < sizeof(io_read); i++)
		log->iocs[io_read[i]] = NVME_CMD_EFFECTS_CSUPP;
	for (size_t i = 0; i < sizeof(io_write); i++)
		log->iocs[io_write[i]] = NVME_CMD_EFFECTS_CSUPP | NVME_CMD_EFFECTS_LBCC;
	return sizeof(*log);
}

static uint16_t log_smart(struct tgt_cmd *cmd, uint8_t *page)
{
	struct nvme_smart_log *log = (struct nvme_smart_log *)page;
	struct tgt_ctrl *ctrl = cmd->queue->ctrl;
	uint64_t rd = 0, wr = 0, rcmd = 0, wcmd = 0, dur, duw;
	uint16_t kelvin = TGT_TEMPERATURE_K;

	/* Host reads/writes of this controller, summed over its live queues. */
	pthread_mutex_lock(&ctrl->lock);
	for (int i = 1; i <= TGT_MAX_IO_QUEUES; i++) {
		struct tgt_queue *q = ctrl->queues[i];

		if (!q)
			continue;
		rd += atomic_load_explicit(&q->stats.read_bytes, memory_order_relaxed);
		wr += atomic_load_explicit(&q->stats.write_bytes, memory_order_relaxed);
		rcmd += atomic_load_explicit(&q->stats.read_cmds, memory_order_relaxed);
		wcmd += atomic_load_explicit(&q->stats.write_cmds, memory_order_relaxed);
	}
	pthread_mutex_unlock(&ctrl->lock);
	/* Rounded up. */
	dur = (rd / SMART_DATA_UNIT_BYTES + SMART_DATA_UNIT_COUNT - 1) / SMART_DATA_UNIT_COUNT;
	duw = (wr / SMART_DATA_UNIT_BYTES + SMART_DATA_UNIT_COUNT - 1) / SMART_DATA_UNIT_COUNT;
	memcpy(log->data_units_read, &dur, sizeof(dur));
	memcpy(log->data_units_written, &duw, sizeof(duw));
	memcpy(log->host_reads, &rcmd, sizeof(rcmd));
	memcpy(log->host_writes, &wcmd, sizeof(wcmd));
	log->avail_spare = 100;
	log->spare_thresh = 10;
	memcpy(log->temperature, &kelvin, sizeof(kelvin)); /* little-endian, like every wire field */
	return sizeof(*log);
}

/* The ANA log (0Ch): larger than a page with many namespaces, so built in a buffer of its own.
 * Reading it without RAE re-arms the ANA change event. */
static void log_ana(struct tgt_cmd *cmd, uint64_t offset)
{
	struct tgt_ctrl *ctrl = cmd->queue->ctrl;
	bool groups_only = NVME_LOG_LSP(cmd->sqe.cdw10) & NVME_ANA_LOG_RGO;
	uint8_t *log;
	size_t len = tgt_ana_log_build(ctrl, groups_only, &log);
	uint16_t status = !len ? NVME_SC_INTERNAL : offset % NVME_LOG_OFFSET_ALIGN ? NVME_SC_INVALID_FIELD | NVME_SC_DNR
										  : 0;

	if (!status)
		status = tgt_cmd_reply_at(cmd, log, (uint32_t)len, offset);
	free(log);
	if (!status && !(cmd->sqe.cdw10 & NVME_LOG_RAE)) {
		pthread_mutex_lock(&ctrl->lock);
		ctrl->aen_masked &= ~TGT_AEN_ANA_CHANGE;
		pthread_mutex_unlock(&ctrl->lock);
		tgt_ctrl_deliver_aens(ctrl);
	}
	tgt_cmd_complete(cmd, status);
}

void tgt_admin_get_log_page(struct tgt_cmd *cmd)
{
	uint8_t lid = NVME_LOG_LID(cmd->sqe.cdw10);
	uint64_t offset = tgt_cmd_log_offset(cmd);
	uint8_t *page = calloc(1, NVME_IDENTIFY_DATA_SIZE); /* the largest log page served here */
	uint32_t page_len = 0;
	uint16_t status = NVME_SC_SUCCESS;

	if (!page) {
		tgt_cmd_complete(cmd, NVME_SC_INTERNAL);
		return;
	}
	if (lid == NVME_LOG_ANA && !cmd->queue->ctrl->subsys->discovery) {
		free(page);
		log_ana(cmd, offset);
		return;
	}
	switch (lid) {
	case NVME_LOG_ERROR:
		page_len = sizeof(struct nvme_error_log_entry); /* one entry, never filled: zeros */
		break;
	case NVME_LOG_SMART:
		page_len = log_smart(cmd, page);
		break;
	case NVME_LOG_FW_SLOT: {
		struct nvme_fw_slot_log *fw = (struct nvme_fw_slot_log *)page;

		fw->afi = 1; /* slot 1 is active */
		nvme_strpad(fw->frs[0], sizeof(fw->frs[0]), TGT_FIRMWARE_REV, ' ');
		page_len = sizeof(*fw);
		break;
	}
	case NVME_LOG_CHANGED_NS:
		page_len = log_changed_ns(cmd, page);
		break;
	case NVME_LOG_CMD_EFFECTS:
		page_len = log_cmd_effects(page);
		break;
	case NVME_LOG_RESERVATION:
		status = tgt_resv_log_page(cmd, page, &page_len);
		break;
	default:
		tr_warn("%s: Get Log Page for unsupported log %#x", cmd->queue->peer, lid);
		status = NVME_SC_INVALID_LOG_PAGE | NVME_SC_DNR;
		break;
	}
	if (!status && offset % NVME_LOG_OFFSET_ALIGN)
		status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
	if (!status)
		status = tgt_cmd_reply_at(cmd, page, page_len, offset);
	free(page);
	tgt_cmd_complete(cmd, status);
}

void tgt_admin_set_features(struct tgt_cmd *cmd)
{
	struct tgt_ctrl *ctrl = cmd->queue->ctrl;
	uint8_t fid = NVME_FEAT_FID(cmd->sqe.cdw10);
	uint32_t v = cmd->sqe.cdw11;
	uint16_t status = NVME_SC_SUCCESS;

	if (cmd->sqe.cdw10 & NVME_FEAT_SAVE) {
		tgt_cmd_complete(cmd, NVME_SC_FEATURE_NOT_SAVEABLE | NVME_SC_DNR);
		return;
	}
	switch (fid) {
	case NVME_FEAT_NUM_QUEUES: {
		uint32_t nsq = NVME_FEAT_NSQR(v), ncq = NVME_FEAT_NCQR(v), n;

		if (nsq > NVME_FEAT_NUM_QUEUES_MAX || ncq > NVME_FEAT_NUM_QUEUES_MAX) {
			status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
			break;
		}
		n = nsq < ncq ? nsq : ncq;
		if (n > TGT_MAX_IO_QUEUES)
			n = TGT_MAX_IO_QUEUES;
		pthread_mutex_lock(&ctrl->lock);
		ctrl->nr_io_queues = (uint16_t)n;
		pthread_mutex_unlock(&ctrl->lock);
		cmd->cqe.result = NVME_FEAT_NUM_QUEUES_RESULT(n, n);
		break;
	}
	case NVME_FEAT_KATO:
		ctrl->kato_ms = v;
		tgt_ctrl_touch(ctrl);
		break;
	case NVME_FEAT_ASYNC_EVENT:
		pthread_mutex_lock(&ctrl->lock);
		ctrl->aen_cfg = v & (NVME_AEN_CFG_NS_ATTR | NVME_AEN_CFG_ANA_CHANGE);
		pthread_mutex_unlock(&ctrl->lock);
		tgt_ctrl_deliver_aens(ctrl);
		break;
	case NVME_FEAT_HOST_ID:
		/* Over fabrics the host identifier is fixed by Connect. */
		status = NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
		break;
	case NVME_FEAT_RESV_MASK:
	case NVME_FEAT_RESV_PERSIST:
		status = tgt_resv_set_feature(cmd, fid);
		break;
	case NVME_FEAT_VOLATILE_WC:
		/* The cache is a property of the backend; accept the host's wish, keep flushing. */
		break;
	default:
		status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
		break;
	}
	tgt_cmd_complete(cmd, status);
}

void tgt_admin_get_features(struct tgt_cmd *cmd)
{
	struct tgt_ctrl *ctrl = cmd->queue->ctrl;
	uint8_t fid = NVME_FEAT_FID(cmd->sqe.cdw10);
	uint16_t status = NVME_SC_SUCCESS;

	switch (fid) {
	case NVME_FEAT_ARBITRATION:
	case NVME_FEAT_POWER_MGMT:
	case NVME_FEAT_ERR_RECOVERY:
	case NVME_FEAT_IRQ_COALESCE:
	case NVME_FEAT_WRITE_ATOMIC:
		cmd->cqe.result = 0;
		break;
	case NVME_FEAT_TEMP_THRESH:
		cmd->cqe.result = TGT_TEMP_THRESH_K;
		break;
	case NVME_FEAT_VOLATILE_WC:
		cmd->cqe.result = NVME_FEAT_VWC_ENABLE;
		break;
	case NVME_FEAT_NUM_QUEUES: {
		uint32_t n = ctrl->nr_io_queues; /* what Connect accepts, so the two agree */

		cmd->cqe.result = NVME_FEAT_NUM_QUEUES_RESULT(n, n);
		break;
	}
	case NVME_FEAT_KATO:
		cmd->cqe.result = ctrl->kato_ms;
		break;
	case NVME_FEAT_ASYNC_EVENT:
		cmd->cqe.result = ctrl->aen_cfg;
		break;
	case NVME_FEAT_RESV_MASK:
	case NVME_FEAT_RESV_PERSIST:
		status = tgt_resv_get_feature(cmd, fid);
		break;
	case NVME_FEAT_HOST_ID:
		/* Only the 128-bit form (EXHID) exists over fabrics. */
		if (!(cmd->sqe.cdw11 & NVME_FEAT_HOST_ID_EXHID)) {
			status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
			break;
		}
		status = tgt_cmd_reply(cmd, ctrl->hostid, sizeof(ctrl->hostid));
		break;
	default:
		status = NVME_SC_INVALID_FIELD | NVME_SC_DNR;
		break;
	}
	tgt_cmd_complete(cmd, status);
}

static void admin_async_event(struct tgt_cmd *cmd)
{
	struct tgt_ctrl *ctrl = cmd->queue->ctrl;

	pthread_mutex_lock(&ctrl->lock);
	if (ctrl->nr_aers > TGT_AERL) {
		pthread_mutex_unlock(&ctrl->lock);
		tgt_cmd_complete(cmd, NVME_SC_ASYNC_LIMIT | NVME_SC_DNR);
		return;
	}
	/* Parked until an event; not executing, so a closing queue frees it. */
	tgt_cmd_set_state(cmd, TGT_CMD_WAIT_EVENT);
	ctrl->aer_cmds[ctrl->nr_aers++] = cmd;
	pthread_mutex_unlock(&ctrl->lock);
	tgt_ctrl_deliver_aens(ctrl);
}

static void admin_abort(struct tgt_cmd *cmd)
{
	/* Commands here finish fast; report "not aborted", which is always truthful. */
	cmd->cqe.result = NVME_ABORT_NOT_ABORTED;
	tgt_cmd_complete(cmd, NVME_SC_SUCCESS);
}

/* Identify and Get Log Page return data: the SGL must offer room for it. */
static uint16_t need_c2h(struct tgt_cmd *cmd)
{
	return cmd->xfer == TGT_XFER_C2H && cmd->data_len ? 0 : NVME_SC_INVALID_FIELD | NVME_SC_DNR;
}

/* What admin and discovery controllers both take beyond their own commands: Keep Alive and AERs.
 * Anything else is an opcode this kind of controller does not support. */
static uint16_t parse_common_admin_cmd(struct tgt_cmd *cmd, const char *kind)
{
	switch (cmd->sqe.opcode) {
	case nvme_admin_keep_alive:
		cmd->execute = tgt_admin_keep_alive;
		return 0;
	case nvme_admin_async_event:
		cmd->execute = admin_async_event;
		return 0;
	default:
		tr_warn("%s: unsupported %s opcode %#x", cmd->queue->peer, kind, cmd->sqe.opcode);
		return NVME_SC_INVALID_OPCODE | NVME_SC_DNR;
	}
}

uint16_t tgt_parse_admin_cmd(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;

	if (!(q->ctrl->csts & NVME_CSTS_RDY))
		return NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
	switch (cmd->sqe.opcode) {
	case nvme_admin_identify:
		cmd->execute = tgt_admin_identify;
		return need_c2h(cmd);
	case nvme_admin_get_log_page:
		cmd->execute = tgt_admin_get_log_page;
		return need_c2h(cmd);
	case nvme_admin_set_features:
		cmd->execute = tgt_admin_set_features;
		return 0;
	case nvme_admin_get_features:
		cmd->execute = tgt_admin_get_features;
		return 0;
	case nvme_admin_abort_cmd:
		cmd->execute = admin_abort;
		return 0;
	default:
		return parse_common_admin_cmd(cmd, "admin");
	}
}

uint16_t tgt_parse_discovery_cmd(struct tgt_cmd *cmd)
{
	struct tgt_queue *q = cmd->queue;
	uint8_t fid = NVME_FEAT_FID(cmd->sqe.cdw10);

	if (!(q->ctrl->csts & NVME_CSTS_RDY))
		return NVME_SC_CMD_SEQ_ERROR | NVME_SC_DNR;
	switch (cmd->sqe.opcode) {
	case nvme_admin_identify:
		if (NVME_IDENTIFY_CNS(cmd->sqe.cdw10) != NVME_ID_CNS_CTRL)
			return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
		cmd->execute = tgt_admin_identify;
		return need_c2h(cmd);
	case nvme_admin_get_log_page:
		cmd->execute = tgt_disc_get_log_page;
		return need_c2h(cmd);
	case nvme_admin_set_features:
	case nvme_admin_get_features:
		if (fid != NVME_FEAT_KATO && fid != NVME_FEAT_ASYNC_EVENT)
			return NVME_SC_INVALID_FIELD | NVME_SC_DNR;
		cmd->execute = cmd->sqe.opcode == nvme_admin_set_features ? tgt_admin_set_features
									  : tgt_admin_get_features;
		return 0;
	default:
		return parse_common_admin_cmd(cmd, "discovery");
	}
}
