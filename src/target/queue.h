/* A target submission/completion queue pair as the transport-neutral core sees it: its controller,
 * sizes, namespace cache, statistics and buffer accounting, and the transport's ops table through
 * which the core sends replies. A transport (tcp.c) embeds it in its own queue. */
#ifndef TIGHTROPE_TARGET_QUEUE_H
#define TIGHTROPE_TARGET_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "target/target.h"
#include "target/worker.h"

struct tgt_cmd;
struct tgt_queue;
struct tgt_auth;

/* A queue's life: each step is taken in tgt_queue_set_state(), which checks it. */
enum tgt_queue_state {
	TGT_Q_WAIT_ICREQ, /* accepted: the transport's own handshake comes first (ICReq) */
	TGT_Q_CONNECTING, /* transport ready, waiting for the Fabrics Connect */
	TGT_Q_LIVE, /* bound to a controller */
	TGT_Q_CLOSING, /* torn down: slots still with a handler or the backend free themselves */
};

/* What the core asks of a transport (nvmet's nvmet_fabrics_ops, in small). */
struct tgt_transport_ops {
	const char *name;
	/* The command is done: its completion is filled in (cmd->cqe), its data, if any, is at
	 * cmd->c2h_data. Send them; hand the slot back with tgt_cmd_retire() once they are out. */
	void (*queue_response)(struct tgt_cmd *cmd);
	/* Ask the host for a write's data; call tgt_cmd_data_ready() once all of it is in. */
	void (*fetch_data)(struct tgt_cmd *cmd);
	/* Hand a retired slot back to the queue (its free list). */
	void (*free_slot)(struct tgt_cmd *cmd);
	/* Allocate `size` slots once Connect has told the queue's ID and size. 0 or -ENOMEM. */
	int (*alloc_slots)(struct tgt_queue *q, uint16_t qid, uint16_t size);
	/* Tear the queue down now (on its worker). */
	void (*close)(struct tgt_queue *q, const char *why);
	/* Make the queue close soon, from any thread (a controller teardown). */
	void (*shutdown)(struct tgt_queue *q);
	/* Socket readiness on the worker's event loop, and the end-of-turn batched send. */
	void (*on_event)(struct tgt_queue *q, uint32_t events);
	void (*flush)(struct tgt_queue *q);
	/* Buffers came back: go on receiving (a transport that stopped reading to wait for them). */
	void (*resume_rx)(struct tgt_queue *q);
	bool (*rx_waits_for_bufs)(const struct tgt_queue *q, uint32_t *need);
	/* Free the transport's part once the last reference is gone. */
	void (*destroy)(struct tgt_queue *q);
	/* Replies still to be sent from namespace ns's memory: copy them into their commands' buffers and
	 * send those instead, then let go of the blocks (tgt_lba_leave). On the queue's worker. May be NULL. */
	void (*copy_replies)(struct tgt_queue *q, struct tgt_ns *ns);
};

struct tgt_queue_stats {
	_Atomic uint64_t cmds;
	_Atomic uint64_t read_cmds;
	_Atomic uint64_t write_cmds;
	_Atomic uint64_t read_bytes;
	_Atomic uint64_t write_bytes;
	_Atomic uint64_t errors;
	_Atomic uint64_t buf_waits; /* times a command or the socket waited for the buffer budget */
	_Atomic uint32_t inflight;
};

struct tgt_queue {
	const struct tgt_transport_ops *ops;
	struct tgt_target *target;
	struct tgt_worker *worker;
	struct tgt_listener *listener; /* the port it came in on (NULL: a fuzzer's) */
	char peer[64];
	/* The address the host reached us at: what the discovery log names for a wildcard port. */
	char local_addr[64];
	char local_port[8];
	bool local_ipv6;
	bool hdgst, ddgst; /* the transport's digests, as negotiated (for reports) */
	/* Replies are read again after the handler is done (a data digest is computed before the
	 * send): they must not be namespace memory a write could change meanwhile. */
	bool c2h_must_copy;
	enum tgt_queue_state state;
	uint16_t qid;
	uint16_t size; /* entries (sqsize + 1) */
	bool sqhd_disabled;
	uint16_t sqhd;
	struct tgt_ctrl *ctrl;
	struct tgt_auth *auth; /* in-band authentication state; NULL when the host needs none */
	/* TLS: the identity the host opened the session with; Connect must name the same NQNs. */
	bool tls;
	char tls_hostnqn[NVME_NQN_SIZE];
	char tls_subnqn[NVME_NQN_SIZE];

	/* Namespace cache, refreshed when the subsystem's generation moves. */
	uint32_t ns_generation;
	struct tgt_ns *ns_cache[TGT_MAX_NSID + 1];

	struct tgt_queue_stats stats;
	/* Command buffers this queue holds, and its commands waiting for the worker's budget (FIFO). */
	uint64_t buf_held;
	struct tgt_cmd *buf_wait_head, *buf_wait_tail;
	bool buf_waiting; /* on the worker's list of queues with waiting commands */
	struct tgt_queue *buf_wait_next;
	/* On the worker's list of queues to flush at the end of this loop turn. */
	bool flush_pending;
	struct tgt_queue *flush_next;
	/* Fused operations: the FIRST command still waiting for its SECOND to arrive, or whether the FIRST
	 * just before failed (then a SECOND is aborted with it). */
	struct tgt_cmd *fused_first;
	bool fused_first_failed;
	uint64_t started_ms; /* when the connection was accepted: the handshake timeout runs from here */
	int refs; /* 1 + slots with a handler or the backend + the worker's lists; worker-local */
	struct tgt_queue *prev, *next; /* worker's list */
};

/* core.c */
void tgt_queue_set_state(struct tgt_queue *q, enum tgt_queue_state state);
bool tgt_queue_is_admin(const struct tgt_queue *q);
/* Drop a reference; the last one frees the queue (through ops->destroy). */
void tgt_queue_put(struct tgt_queue *q);
/* Close the queue if it has not finished its handshake and Connect within the target's timeout. */
void tgt_queue_check_handshake(struct tgt_queue *q, uint64_t now_ms);
/* Bring the queue's namespace cache up to date, dropping references to removed namespaces. */
void tgt_queue_ns_refresh(struct tgt_queue *q);
/* Drop the queue's namespace references. */
void tgt_queue_ns_drop(struct tgt_queue *q);
/* Connect handled: bind the queue to its controller; 0 or -ENOMEM. */
int tgt_queue_bind(struct tgt_queue *q, struct tgt_ctrl *ctrl, uint16_t qid, uint16_t size, bool sqhd_disabled);

/* auth.c: a queue's in-band authentication (queues of hosts with a DH-HMAC-CHAP secret). */
int tgt_auth_queue_init(struct tgt_queue *q);
void tgt_auth_queue_free(struct tgt_queue *q);
/* May the queue run commands other than Authentication Send/Receive and Disconnect? */
bool tgt_auth_queue_ready(const struct tgt_queue *q);
/* Close the queue if it has not authenticated in time, or failed and the host lingers; true if
 * it was closed (and may be freed). */
bool tgt_auth_check_deadline(struct tgt_queue *q, uint64_t now_ms);

/* tls.c: TLS on a queue. What the listener's policy makes of the first byte a client sent: 1 a
 * TLS handshake, 0 plain NVMe/TCP, -1 refused (logged). */
struct ntls;
int tgt_tls_first_byte(struct tgt_queue *q, uint8_t b);
struct ntls *tgt_tls_session_new(struct tgt_queue *q, int fd);
/* The handshake is done: keep the peer's identity. 0 or -EPROTO. */
int tgt_tls_established(struct tgt_queue *q, const struct ntls *t);
void tgt_tls_failed(struct tgt_queue *q, const struct ntls *t);
/* A client's PSK identity, "NVMe0R0H <hostnqn> <subnqn>" (it comes off the network): the hash (1 or
 * 2) and the two NQNs (NVME_NQN_SIZE bytes each); false for anything else. */
bool tgt_tls_parse_identity(const char *id, uint8_t *hash, char *host, char *sub);
/* Does a Connect's host and subsystem match the queue's TLS identity (if any)? */
bool tgt_tls_connect_ok(const struct tgt_queue *q, const char *hostnqn, const char *subnqn);

/* tcp.c: the NVMe/TCP transport's queues, started by the worker on an accepted socket. */
void tgt_tcp_queue_start(struct tgt_worker *w, int fd, struct tgt_listener *l);

#endif
