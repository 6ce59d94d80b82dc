/* A command as the transport-neutral core and its handlers see it (nvmet's nvmet_req), the steps
 * of its life, and the handler entry points. Handlers follow nvmet's split: a parse step picks
 * `execute` and checks fields, then it runs and ends in tgt_cmd_complete(). */
#ifndef TIGHTROPE_TARGET_CMD_H
#define TIGHTROPE_TARGET_CMD_H

#include "target/lba_lock.h"
#include "target/queue.h"

enum tgt_xfer { TGT_XFER_NONE, TGT_XFER_H2C, TGT_XFER_C2H };

/* A command slot's life; every step goes through tgt_cmd_set_state(), which checks it. */
enum tgt_cmd_state {
	TGT_CMD_FREE,
	TGT_CMD_RECV_DATA, /* the capsule's in-capsule data is arriving */
	TGT_CMD_WAIT_BUF, /* waiting for the worker's buffer budget */
	TGT_CMD_WAIT_H2C, /* R2T sent: the host's data is arriving */
	TGT_CMD_EXECUTING, /* with its handler or the backend: it frees itself when done */
	TGT_CMD_WAIT_EVENT, /* an Asynchronous Event Request parked until an event */
	TGT_CMD_SENDING, /* its reply is queued: free once on the wire */
};

struct tgt_cmd {
	struct tgt_queue *queue;
	struct nvme_command sqe;
	struct nvme_completion cqe;
	uint16_t status; /* NVMe status, unshifted */
	enum tgt_xfer xfer;
	uint32_t data_len; /* bytes the command moves */
	enum tgt_cmd_state state;
	bool incapsule;
	uint8_t *buf; /* the command's data buffer */
	uint32_t buf_cap;
	const void *c2h_data; /* what C2HData sends: buf, or backend memory */
	struct tgt_ns *ns;
	void (*execute)(struct tgt_cmd *cmd);
	struct tgt_io io;
	uint32_t dsm_left; /* ranges still in flight */
	/* Reservations: the epoch this command is counted in (0/1, -1 when not), and for a Preempt and
	 * Abort the epoch whose commands it waits for. */
	int8_t resv_parity;
	uint8_t resv_wait_parity;
	int dsm_err;
	/* Waiting for the worker's buffer budget: what to do once its buffer is granted. */
	void (*resume)(struct tgt_cmd *cmd);
	struct tgt_cmd *wait_next;
	uint64_t start_ns; /* when its capsule was taken (the latency histogram's start) */
	/* The namespace's LBA range lock (lba_lock.h): how it holds it, its worker's counter, its claim,
	 * and what runs it once a waiting claim may go (NULL: cmd->execute). Fused operations (fused.c):
	 * its FUSE bits once accepted (0 = not fused; the other fused fields are set when it is), its other
	 * half once paired, whether its data are in and it waits for that half, whether the pair started. */
	uint8_t lba_hold;
	uint8_t fuse;
	bool fused_ready;
	bool fused_running;
	uint16_t lba_shard;
	struct tgt_lba_range lba;
	void (*lba_resume)(struct tgt_cmd *cmd, uint16_t status);
	struct tgt_cmd *fused_peer;
};

/* core.c: the steps of a command's life, for transports to call in this order. */
/* A capsule arrived in this free slot: take it. */
void tgt_cmd_begin(struct tgt_cmd *cmd, const struct nvme_command *sqe);
/* Map its SGL, take a buffer for in-capsule data, choose its handler; 0 or an NVMe status
 * (Connect is checked only once its data is in). */
uint16_t tgt_cmd_prepare(struct tgt_cmd *cmd, uint32_t incapsule_len);
/* Prepared, and no data in the capsule: once it has a buffer, fetch its data (a write) or run it. */
void tgt_cmd_proceed(struct tgt_cmd *cmd);
/* Run it (its data, if any, is in). */
void tgt_cmd_execute(struct tgt_cmd *cmd);
/* All its data is in (cmd->status holds any error seen on the way): run or answer it. */
void tgt_cmd_data_ready(struct tgt_cmd *cmd);
/* The reply is out (or the queue is gone): drop what the slot holds and hand it back. */
void tgt_cmd_retire(struct tgt_cmd *cmd);

/* Parse steps: set cmd->execute or return an NVMe status. */
uint16_t tgt_parse_fabrics_cmd(struct tgt_cmd *cmd);
uint16_t tgt_parse_admin_cmd(struct tgt_cmd *cmd);
uint16_t tgt_parse_io_cmd(struct tgt_cmd *cmd);
uint16_t tgt_parse_discovery_cmd(struct tgt_cmd *cmd);
uint16_t tgt_parse_auth_cmd(struct tgt_cmd *cmd); /* Authentication Send/Receive (auth.c) */

void tgt_cmd_set_state(struct tgt_cmd *cmd, enum tgt_cmd_state state);
const char *tgt_cmd_state_name(enum tgt_cmd_state state);

/* Finish a command: fill its completion and hand data and completion to the transport. */
void tgt_cmd_complete(struct tgt_cmd *cmd, uint16_t status);
/* Namespace lookup through the queue's cache; NULL if absent. */
struct tgt_ns *tgt_queue_ns(struct tgt_queue *q, uint32_t nsid);
/* cmd_buf.c: command data buffers, recycled per worker within its budget. */
/* Data buffer of at least len bytes, aligned for O_DIRECT. */
int tgt_cmd_alloc_buf(struct tgt_cmd *cmd, uint32_t len);
/* Give the command's buffer back (to the worker's cache or to malloc). */
void tgt_cmd_buf_put(struct tgt_cmd *cmd);
/* May this queue take `need` more bytes of command buffers now? */
bool tgt_queue_buf_allowed(const struct tgt_queue *q, uint32_t need);
/* Go on with the command (next) once it has the buffer it needs: now, or when buffers come back. */
void tgt_cmd_start(struct tgt_cmd *cmd, void (*next)(struct tgt_cmd *cmd));
/* Put the queue on its worker's list of queues waiting for buffers (once). */
void tgt_queue_wait_bufs(struct tgt_queue *q);
/* Copy a reply into the command's buffer (truncated to what the host asked for). */
uint16_t tgt_cmd_reply(struct tgt_cmd *cmd, const void *data, size_t len);
/* The same from 'offset' into the data (a log page), zeros past its end. */
uint16_t tgt_cmd_reply_at(struct tgt_cmd *cmd, const void *data, size_t len, uint64_t offset);
/* The status of a command that came before its queue authenticated (and a rate-limited line). */
uint16_t tgt_cmd_auth_required(const struct tgt_cmd *cmd);
/* Connect data, checked for length; NULL if the host sent none or too little. */
const struct nvmf_connect_data *tgt_cmd_connect_data(struct tgt_cmd *cmd);

/* A Read this command makes is served straight from namespace memory: it needs no buffer. */
bool tgt_io_read_is_mapped(const struct tgt_cmd *cmd);

void tgt_admin_keep_alive(struct tgt_cmd *cmd);
void tgt_admin_get_log_page(struct tgt_cmd *cmd);
void tgt_admin_identify(struct tgt_cmd *cmd);
void tgt_admin_set_features(struct tgt_cmd *cmd);
void tgt_admin_get_features(struct tgt_cmd *cmd);
void tgt_disc_get_log_page(struct tgt_cmd *cmd);
uint32_t tgt_cmd_log_len(const struct tgt_cmd *cmd);
uint64_t tgt_cmd_log_offset(const struct tgt_cmd *cmd);

#endif
