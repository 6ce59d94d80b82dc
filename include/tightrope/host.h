/* tightrope's NVMe/TCP host library (libtightrope-host, pkg-config name "tightrope"): connect a
 * controller (admin queue + I/O queues) over TCP, run admin commands synchronously and I/O
 * asynchronously, one I/O queue per thread, no locks. examples/read_block.c shows the whole cycle. */
#ifndef TIGHTROPE_HOST_H
#define TIGHTROPE_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nvme.h" /* the wire layouts passed through: struct nvme_command, nvme_id_ctrl, ... */

/* What the shared library exports: it is built with hidden visibility, so nothing else leaks. */
#ifndef TR_API
#define TR_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Opaque handles: a controller, and one of its I/O queues. */
struct tr_ctrl;
struct tr_ioq;

/* nvme-cli's names and defaults. */
struct tr_ctrl_opts {
	const char *traddr;
	const char *trsvcid; /* default "4420" */
	const char *subnqn;
	const char *hostnqn;
	uint8_t hostid[16];
	int nr_io_queues; /* default: online CPUs */
	int queue_size; /* I/O queue entries, default 128 */
	int kato_s; /* keep-alive timeout, default 5 (discovery: none) */
	bool hdr_digest;
	bool data_digest;
	/* Ask the I/O queues to run without SQ flow control (nvme-cli --disable-sqflow): the controller
	 * then ends a read with its last C2HData PDU instead of a separate completion. Default off. */
	bool disable_sqflow;
	int cmd_timeout_ms; /* per-command timeout, default 30000 */
	int connect_timeout_ms; /* TCP connect + ICReq + Connect, default 10000 */
	/* DH-HMAC-CHAP secrets in the DHHC-1 form (nvme-cli's --dhchap-secret and --dhchap-ctrl-secret),
	 * NULL for none: ours, used when a queue's Connect asks for authentication, and the controller's,
	 * which makes it prove itself too (a controller that asks for no authentication is then refused).
	 * Read at connect; the library keeps no pointer to them. */
	const char *dhchap_secret;
	const char *dhchap_ctrl_secret;
	/* NVMe/TCP TLS 1.3 (nvme-cli's --tls and --tls-key): tls_key is the configured PSK
	 * ("NVMeTLSkey-1:01:...:") or a file holding it; the identity and TLS PSK are derived for the
	 * host and subsystem NQNs as the Linux host derives them. Setting tls_key implies tls. */
	bool tls;
	const char *tls_key;
};

TR_API void tr_ctrl_opts_init(struct tr_ctrl_opts *o);

/* Connect: admin queue, enable, Identify, I/O queues. 0, or -errno with 'why' naming the cause
 * ("connection refused", "no such subsystem", "host not allowed", "digest mismatch", "timeout"). */
TR_API int tr_ctrl_connect(const struct tr_ctrl_opts *o, struct tr_ctrl **out, char *why, size_t whylen);
/* Shut the controller down (CC.SHN), close every queue, free everything. */
TR_API void tr_ctrl_disconnect(struct tr_ctrl *c);

/* ---- Error recovery and events ---- */

/* 0 while every queue is up; else the first queue's error, with 'why' naming it. */
TR_API int tr_ctrl_health(struct tr_ctrl *c, char *why, size_t whylen);
/* Close every queue (commands in flight complete with an error); the controller can reconnect. */
TR_API void tr_ctrl_teardown(struct tr_ctrl *c);
/* A fresh association with the same options: admin queue, enable, Identify, I/O queues. */
TR_API int tr_ctrl_reconnect(struct tr_ctrl *c, char *why, size_t whylen);
/* Keep an Asynchronous Event Request armed and run admin completions without blocking.
 * Returns 1 with the event's result in *aen when one arrived, 0, or -errno. */
TR_API int tr_ctrl_poll_admin(struct tr_ctrl *c, uint32_t *aen);
/* The active namespace IDs (up to max); count or -errno. */
TR_API int tr_ctrl_active_ns(struct tr_ctrl *c, uint32_t *nsids, int max);
/* A namespace's size in logical blocks and the size of one block in bytes (Identify Namespace, the
 * LBA format in use). 0; -ENOENT for a namespace that is not active; the NVMe status; or -errno. */
TR_API int tr_ctrl_ns_geometry(struct tr_ctrl *c, uint32_t nsid, uint64_t *nr_blocks, uint32_t *lba_size);

TR_API const struct nvme_id_ctrl *tr_ctrl_identify_data(const struct tr_ctrl *c);
TR_API uint16_t tr_ctrl_cntlid(const struct tr_ctrl *c);
TR_API int tr_ctrl_nr_io_queues(const struct tr_ctrl *c);
/* Largest transfer one command may move (MDTS and our own limit), in bytes. */
TR_API uint32_t tr_ctrl_max_xfer(const struct tr_ctrl *c);
/* Poll mode for the I/O queues, now and after every reconnect: a tr_ioq_poll that waits spins on
 * the socket for up to poll_us microseconds before it sleeps (lower latency at low queue depth, a
 * busy core meanwhile). 0, the default, sleeps at once. */
TR_API void tr_ctrl_set_poll_us(struct tr_ctrl *c, uint32_t poll_us);
/* How the admin queue was authenticated: not at all, we proved ourselves (DH-HMAC-CHAP), or the
 * controller proved itself as well. */
enum tr_auth { TR_AUTH_NONE, TR_AUTH_DHCHAP, TR_AUTH_DHCHAP_BIDI };
TR_API enum tr_auth tr_ctrl_auth(const struct tr_ctrl *c);

/* A synchronous admin command (thread-safe). Returns the NVMe status (0 = success), or -errno
 * for a transport failure. 'data' is read or written according to the opcode's direction. */
TR_API int tr_ctrl_admin(struct tr_ctrl *c, struct nvme_command *cmd, void *data, uint32_t len,
			 struct nvme_completion *cqe);
TR_API int tr_ctrl_identify(struct tr_ctrl *c, uint8_t cns, uint32_t nsid, void *buf4k);
TR_API int tr_ctrl_get_log(struct tr_ctrl *c, uint8_t lid, uint32_t nsid, void *buf, uint32_t len);

/* Discovery: connect to the discovery controller, fetch the whole log. *entries is malloc'd. */
TR_API int tr_discover(const struct tr_ctrl_opts *o, struct nvmf_disc_log_entry **entries, uint64_t *nr,
		       uint64_t *genctr, char *why, size_t whylen);

/* ---- I/O queues: each used by one thread at a time ---- */

/* status: the NVMe status (0 = success) or a negative errno for a transport failure. */
typedef void (*tr_io_cb)(void *arg, int status);

TR_API struct tr_ioq *tr_ctrl_ioq(struct tr_ctrl *c, int index);
/* Submit; -EAGAIN when the queue is full (poll, then retry), -EIO once the queue has failed. */
TR_API int tr_ioq_read(struct tr_ioq *q, uint32_t nsid, uint64_t slba, uint32_t nlb, void *buf, uint32_t len,
		       tr_io_cb cb, void *arg);
TR_API int tr_ioq_write(struct tr_ioq *q, uint32_t nsid, uint64_t slba, uint32_t nlb, const void *buf,
			uint32_t len, bool fua, tr_io_cb cb, void *arg);
TR_API int tr_ioq_flush(struct tr_ioq *q, uint32_t nsid, tr_io_cb cb, void *arg);
TR_API int tr_ioq_write_zeroes(struct tr_ioq *q, uint32_t nsid, uint64_t slba, uint32_t nlb, tr_io_cb cb,
			       void *arg);
TR_API int tr_ioq_deallocate(struct tr_ioq *q, uint32_t nsid, uint64_t slba, uint32_t nlb, tr_io_cb cb,
			     void *arg);
/* Fused Compare and Write (NVMe Base 2.0 6.2): a Compare of 'cmp' and a Write of 'data' to the same
 * blocks ('len' bytes each), which the controller executes as one atomic operation: the write lands
 * only if the blocks held exactly 'cmp'. Both commands are queued back to back or neither is
 * (-EAGAIN when fewer than two entries are free; -EINVAL for a bad size; -EOPNOTSUPP when the
 * controller does not announce fused compare-and-write in FUSES). 'cb' runs once for the
 * pair: 0 when both succeeded; on a miscompare the Compare's status (Compare Failure, 0x285, with
 * DNR: 0x4285); otherwise the failing half's status, or -errno for a transport failure.
 * The library never sends a command again, and so never one half of a pair alone: when the queue
 * fails under a pair (timeout, connection lost, tr_ctrl_teardown or a reconnect) the pair completes
 * with the -errno and whether its write landed is unknown, as for any write that fails that way.
 * Read the blocks back before trying again. */
TR_API int tr_ioq_compare_and_write(struct tr_ioq *q, uint32_t nsid, uint64_t slba, uint32_t nlb, const void *cmp,
				    const void *data, uint32_t len, tr_io_cb cb, void *arg);
/* Send what is queued and run completions; waits up to timeout_ms (0 = don't wait, -1 = until
 * at least one completes). Returns completions run, or -errno once the queue has failed. */
TR_API int tr_ioq_poll(struct tr_ioq *q, int timeout_ms);
TR_API int tr_ioq_inflight(const struct tr_ioq *q);
/* Why the queue failed ("data digest mismatch on C2HData for command 26 ..."), or NULL while it works. */
TR_API const char *tr_ioq_error(const struct tr_ioq *q);
/* For an event loop that drives queues with poll(): the socket, and whether it has bytes to send. */
TR_API int tr_ioq_fd(const struct tr_ioq *q);
TR_API bool tr_ioq_tx_pending(const struct tr_ioq *q);

/* A human-readable NVMe status ("LBA Out of Range", ...). */
TR_API const char *tr_status_str(int status);
/* The library's version ("0.1.0"): the one it was built as, which may differ from the headers'
 * TR_VERSION in tightrope/version.h when an application runs against a newer shared library. */
TR_API const char *tr_version(void);

#ifdef __cplusplus
}
#endif

#endif
