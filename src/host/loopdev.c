/* Loop devices of the host process: /dev/loopN over each namespace's FUSE file. Attaching makes the
 * kernel read through that file, so it runs in a thread of its own while the event loop serves those
 * reads; detaching unmounts whatever the user put on the device first, also off the event loop. */
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "host/hostd.h"
#include "util/log.h"

/* Whoever finishes second, the attach thread or the event loop, frees the job. */
enum { JOB_RUNNING, JOB_DONE, JOB_ORPHANED };
struct loop_job {
	pthread_t thread;
	char file[PATH_MAX + 16];
	char name[16];
	uint32_t nsid, block_size;
	char dev[32];
	_Atomic int state;
};

static void *loop_attach_main(void *arg)
{
	struct loop_job *job = arg;
	int ctl, nr, lfd = -1, ffd = -1, ok = 0, expect = JOB_RUNNING;
	char dev[32] = "";

	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	ffd = open(job->file, O_RDWR | O_CLOEXEC);
	/* Another attach may grab the same free device between GET_FREE and CONFIGURE: try again. */
	for (int tries = 0; ctl >= 0 && ffd >= 0 && !ok && tries < 16; tries++) {
		/* Direct I/O: the loop driver then keeps many requests in flight through our FUSE file
		 * (as AIO) instead of one synchronous read or write at a time, and no second page cache. */
		struct loop_config cfg = { .fd = (uint32_t)ffd, .block_size = job->block_size,
					   .info.lo_flags = LO_FLAGS_DIRECT_IO };
		size_t n = strnlen(job->file, sizeof(cfg.info.lo_file_name) - 1);

		nr = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (nr < 0)
			break;
		snprintf(dev, sizeof(dev), "/dev/loop%d", nr);
		lfd = open(dev, O_RDWR | O_CLOEXEC);
		if (lfd < 0)
			break;
		memcpy(cfg.info.lo_file_name, job->file, n); /* informational only: a prefix will do */
		ok = ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0;
		if (!ok && errno == EINVAL && ioctl(lfd, LOOP_SET_FD, ffd) == 0) {
			ok = 1; /* a kernel before 5.8 */
			ioctl(lfd, LOOP_SET_BLOCK_SIZE, (unsigned long)job->block_size);
		}
		if (!ok && errno != EBUSY)
			break;
		close(lfd);
		lfd = -1;
	}
	if (ok) {
		snprintf(job->dev, sizeof(job->dev), "%s", dev);
		tr_info("%s: namespace %u is %s (and %s)", job->name, job->nsid, dev, job->file);
	} else {
		tr_warn("%s: namespace %u: no loop device (%s); the file %s still works", job->name, job->nsid,
			strerror(errno), job->file);
	}
	if (ffd >= 0)
		close(ffd);
	if (lfd >= 0)
		close(lfd);
	if (ctl >= 0)
		close(ctl);
	if (!atomic_compare_exchange_strong(&job->state, &expect, JOB_DONE)) {
		/* The namespace went away while we attached: undo, and clean up after ourselves. */
		struct ns_dev gone = { 0 };

		snprintf(gone.loop, sizeof(gone.loop), "%s", job->dev);
		loop_detach(&gone);
		pthread_detach(pthread_self());
		free(job);
	}
	return NULL;
}

void loop_attach_start(struct hostd *h, struct ns_dev *ns)
{
	struct loop_job *job = calloc(1, sizeof(*job));

	if (!job)
		return;
	snprintf(job->file, sizeof(job->file), "%s/n%u", h->mnt, ns->nsid);
	snprintf(job->name, sizeof(job->name), "%s", h->name);
	job->nsid = ns->nsid;
	job->block_size = 1u << ns->lba_shift;
	atomic_store(&job->state, JOB_RUNNING);
	if (pthread_create(&job->thread, NULL, loop_attach_main, job)) {
		free(job);
		return;
	}
	ns->job = job;
}

/* A finished attach: take its device. 'wait' joins a running one (only off the event loop). */
bool loop_attach_collect(struct ns_dev *ns, bool wait)
{
	struct loop_job *job = ns->job;

	if (!job || (!wait && atomic_load(&job->state) != JOB_DONE))
		return false;
	pthread_join(job->thread, NULL);
	snprintf(ns->loop, sizeof(ns->loop), "%s", job->dev);
	free(job);
	ns->job = NULL;
	return true;
}

static void *detach_main(void *arg)
{
	loop_detach(arg);
	free(arg);
	return NULL;
}

/* Detach without blocking the event loop (an unmount on top reads through our FUSE file). */
void loop_detach_async(struct ns_dev *ns)
{
	int expect = JOB_RUNNING;
	pthread_t t;

	if (ns->job && !atomic_compare_exchange_strong(&ns->job->state, &expect, JOB_ORPHANED))
		loop_attach_collect(ns, true); /* it had finished: its device is ours to detach */
	ns->job = NULL;
	if (ns->loop[0]) {
		struct ns_dev *copy = malloc(sizeof(*copy));

		if (copy) {
			*copy = *ns;
			if (pthread_create(&t, NULL, detach_main, copy) == 0)
				pthread_detach(t);
			else
				free(copy);
		}
	}
	ns->loop[0] = 0;
}

/* Unmount whatever is mounted from 'dev' (a filesystem the user put on our loop device). */
void unmount_users(const char *dev)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	char line[4096];

	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX], src[PATH_MAX];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || sscanf(sep + 3, "%*s %4095s", src) != 1)
			continue;
		if (strcmp(src, dev))
			continue;
		if (umount2(mp, 0) == 0)
			tr_info("unmounted %s from %s", dev, mp);
		else if (umount2(mp, MNT_DETACH) == 0)
			tr_warn("%s was busy: detached lazily from %s", dev, mp);
		else
			tr_warn("cannot unmount %s from %s: %s", dev, mp, strerror(errno));
	}
	fclose(f);
}

void loop_detach(struct ns_dev *ns)
{
	int fd;

	if (!ns->loop[0])
		return;
	unmount_users(ns->loop);
	fd = open(ns->loop, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		if (ioctl(fd, LOOP_CLR_FD, 0))
			tr_warn("%s: cannot detach: %s", ns->loop, strerror(errno));
		close(fd);
	}
	ns->loop[0] = 0;
}

static void *set_capacity_main(void *arg)
{
	char *dev = arg;
	int fd = open(dev, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (ioctl(fd, LOOP_SET_CAPACITY, 0))
			tr_warn("%s: cannot take the namespace's new size: %s", dev, strerror(errno));
		close(fd);
	}
	free(dev);
	return NULL;
}

/* The namespace grew or shrank: tell the loop device on top. Off the event loop: the loop driver
 * reads the new size with a getattr on our FUSE file, which only the event loop answers (done on
 * it, the ioctl waited for itself forever, holding the loop device's lock against every losetup). */
void loop_set_capacity(const struct ns_dev *ns)
{
	char *dev;
	pthread_t t;

	if (!ns->loop[0] || !(dev = strdup(ns->loop)))
		return;
	if (pthread_create(&t, NULL, set_capacity_main, dev) == 0)
		pthread_detach(t);
	else
		free(dev);
}
