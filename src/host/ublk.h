/* The block device of each namespace of the host process: /dev/ublkbN through Linux ublk (6.0+) where
 * the kernel has ublk_drv, else the loop device over the namespace's FUSE file (loopdev.c). ublk's
 * queues are served by the event loop through one io_uring; its requests go through io.c like FUSE's. */
#ifndef TIGHTROPE_HOST_UBLK_H
#define TIGHTROPE_HOST_UBLK_H

#include <stdbool.h>

#include "host/hostd.h"

/* A namespace's block device, ublk or loop as the process's options say, on the event loop: start it;
 * collect it once it is up (true when something was collected; 'wait' joins, off the event loop only);
 * is one being started; tear it down (off the event loop: what is mounted on it is unmounted first, and
 * that I/O goes through the event loop), or from the event loop through a thread; take a new size. */
void blkdev_attach_start(struct hostd *h, struct ns_dev *ns);
bool blkdev_attach_collect(struct hostd *h, struct ns_dev *ns, bool wait);
bool blkdev_attaching(const struct ns_dev *ns);
void blkdev_detach(struct ns_dev *ns);
void blkdev_detach_async(struct ns_dev *ns);
void blkdev_set_capacity(const struct ns_dev *ns);

/* The event loop's part: the ring's fd to poll (-1 while there is none), its completions (new requests,
 * aborted commands), and the commits the completed requests queued. */
int ublk_pollfd(void);
void ublk_serve(void);
void ublk_submit(void);

/* The process ends (every device was stopped by the teardown): release and delete them. */
void ublk_release_all(void);

/* A dead host process's device 'dev' (/dev/ublkbN): delete it if that process ('pid') served it. */
void ublk_cleanup_dead(const char *dev, int pid);

#endif
