/* Worker threads: each runs one event loop (epoll) over its queues' sockets, its mailbox, its
 * io_uring for file backends and its list of completions from other threads (RBD), recycles command
 * buffers within its budget, and batches sends. */
#ifndef TIGHTROPE_TARGET_WORKER_H
#define TIGHTROPE_TARGET_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "target/backend.h"

struct tgt_queue;
struct tgt_ctrl;
struct tgt_listener;
struct tgt_msg;
struct io_uring;
struct io_uring_sqe;

#define TGT_BUF_CLASSES 7 /* 16 KiB << 0..6: up to MDTS, 1 MiB */
struct tgt_worker {
	int id;
	struct tgt_target *target;
	pthread_t thread;
	int epfd;
	int evfd; /* mailbox doorbell */
	pthread_mutex_t mbox_lock;
	struct tgt_msg *mbox;
	struct io_uring *ring; /* file/block backends; NULL until first needed */
	int ring_evfd;
	unsigned ring_pending; /* SQEs prepared but not yet submitted */
	unsigned ring_inflight; /* SQEs whose completion has not been reaped */
	/* Completions other threads hand back (librbd's): a lock-free stack they push onto, rung by
	 * remote_evfd when it was empty; only this worker pops it and runs the callbacks. */
	_Atomic(struct tgt_remote_op *) remote_head;
	int remote_evfd;
	unsigned remote_inflight; /* begun on this worker, not yet run here */
	struct tgt_queue *queues;
	struct tgt_queue *flush_list;
	_Atomic bool stopping;
	uint64_t last_busy_ns; /* when epoll last returned events: poll mode spins for poll_us after it */
	/* Command data buffers recycled between this worker's queues, one free list per power-of-two
	 * size from 16 KiB to 1 MiB: no malloc, page faults or munmap per I/O, and a slot keeps no
	 * buffer while idle, so a burst on many queues does not pin memory for good. */
	void *buf_cache[TGT_BUF_CLASSES];
	size_t buf_cached_bytes;
	/* The budget for command buffers that commands hold (cache excluded): past it, a queue that
	 * already holds some waits for buffers to come back instead of allocating more. */
	uint64_t buf_budget;
	uint64_t buf_held;
	struct tgt_queue *buf_waiters, *buf_waiters_tail;
};

int tgt_worker_start(struct tgt_worker *w, int id);
void tgt_worker_stop(struct tgt_worker *w);
/* Free the command buffers the worker recycles (after its queues are gone). */
void tgt_worker_free_bufs(struct tgt_worker *w);
/* Give waiting commands the buffers that have come back, oldest waiter first (cmd_buf.c). */
void tgt_worker_resume_buf_waiters(struct tgt_worker *w);
void tgt_worker_post_conn(struct tgt_worker *w, int fd, struct tgt_listener *l);
/* Hand the worker an event to deliver; consumes a reference to ctrl the caller took. */
void tgt_worker_post_aen(struct tgt_worker *w, struct tgt_ctrl *ctrl);
/* A namespace went: every worker refreshes its queues' caches now, so the backend closes when its
 * last command ends rather than when each queue next looks a namespace up. */
void tgt_workers_post_ns_refresh(void);
/* A RAM namespace's first fused pair: every worker copies the replies its queues still send from the
 * namespace's memory (transport op copy_replies), which lets go of their blocks. */
void tgt_workers_post_copy_replies(struct tgt_target *t, struct tgt_ns *ns);
/* An SQE on the worker's io_uring (created on first use) whose completion runs op->done on this
 * worker; NULL if the ring cannot be had. Submitted at the next loop turn. */
struct io_uring_sqe *tgt_worker_get_sqe(struct tgt_worker *w, struct tgt_ring_op *op);
/* A backend on this worker is about to start a request another thread completes (counted, so a
 * stopping worker waits for it). */
void tgt_worker_remote_begin(struct tgt_worker *w);
/* Any thread: run op->done on op->worker soon. Never blocks (one CAS, maybe one eventfd write). */
void tgt_worker_post_remote(struct tgt_remote_op *op);
/* Send the queue's batch at the end of this loop turn (once per turn, however many replies). */
void tgt_worker_mark_flush(struct tgt_worker *w, struct tgt_queue *q);

#endif
