/* A command slot of a target queue and the handler entry points that parse and execute it.
 * Handlers follow nvmet's split: a parse step picks `execute` and checks fields, then it runs. */
#ifndef TIGHTROPE_TARGET_CMD_H
#define TIGHTROPE_TARGET_CMD_H

#include "target/target.h"

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

struct tgt_pdu_slot {
	union {
		struct nvme_tcp_data_pdu data;
		struct nvme_tcp_r2t_pdu r2t;
		struct nvme_tcp_rsp_pdu rsp;
	};
	uint32_t hdgst; /* written right after the 24-byte header */
} __attribute__((packed));

struct tgt_cmd {
	struct tgt_queue *queue;
	struct nvme_command sqe;
	struct nvme_completion cqe;
	uint16_t status; /* NVMe status, unshifted */
	enum tgt_xfer xfer;
	uint32_t data_len; /* bytes the command moves */
	uint32_t h2c_done; /* bytes of host data received */
	uint32_t r2t_end; /* end of the window the last R2T opened */
	enum tgt_cmd_state state;
	bool incapsule;
	uint8_t *buf; /* the command's data buffer */
	uint32_t buf_cap;
	const void *c2h_data; /* what C2HData sends: buf, or backend memory */
	struct tgt_ns *ns;
	void (*execute)(struct tgt_cmd *cmd);
	struct tgt_io io;
	uint32_t dsm_left; /* ranges still in flight */
	int dsm_err;
	struct tgt_pdu_slot data_pdu; /* C2HData or R2T */
	struct tgt_pdu_slot rsp_pdu;
	uint32_t ddgst;
	uint16_t ttag; /* slot index, or TGT_BOOT_TTAG for the pre-Connect slot */
	struct tgt_cmd *next_free;
	/* Waiting for the worker's buffer budget: what to do once its buffer is granted. */
	void (*resume)(struct tgt_cmd *cmd);
	struct tgt_cmd *wait_next;
};

#define TGT_BOOT_TTAG 0xfffe

/* core.c: the transport-neutral steps of a command. */
/* Work out the data transfer from the command's SGL; 0 or an NVMe status. */
uint16_t tgt_cmd_map_sgl(struct tgt_cmd *cmd, uint32_t incapsule_len);
/* Choose the handler (cmd->execute) and check the command's fields; 0 or an NVMe status. */
uint16_t tgt_cmd_parse(struct tgt_cmd *cmd);
/* Is the command parsed only once its data is in (Connect)? */
bool tgt_cmd_parse_after_data(const struct tgt_cmd *cmd);
/* Drop the queue's namespace references. */
void tgt_queue_ns_drop(struct tgt_queue *q);

/* Parse steps: set cmd->execute or return an NVMe status. */
uint16_t tgt_parse_fabrics_cmd(struct tgt_cmd *cmd);
uint16_t tgt_parse_admin_cmd(struct tgt_cmd *cmd);
uint16_t tgt_parse_io_cmd(struct tgt_cmd *cmd);
uint16_t tgt_parse_discovery_cmd(struct tgt_cmd *cmd);

void tgt_cmd_set_state(struct tgt_cmd *cmd, enum tgt_cmd_state state);
const char *tgt_cmd_state_name(enum tgt_cmd_state state);

/* Finish a command: queue its C2HData (if any) and CapsuleResp. */
void tgt_cmd_complete(struct tgt_cmd *cmd, uint16_t status);
/* Connect handled: bind the queue to its controller. */
void tgt_queue_bind(struct tgt_queue *q, struct tgt_ctrl *ctrl, uint16_t qid, uint16_t size,
		    bool sqhd_disabled);
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
/* Buffers came back for a queue whose socket was parked: go on reading it (tcp.c). */
void tgt_queue_rx_unpark(struct tgt_queue *q);
/* Copy a reply into the command's buffer (truncated to what the host asked for). */
uint16_t tgt_cmd_reply(struct tgt_cmd *cmd, const void *data, size_t len);
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
