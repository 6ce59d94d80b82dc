/* What the CLI does to host processes through their records and control sockets: list them (with
 * liveness checked), disconnect one, clean up after one that died. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/hostd.h"
#include "host/record.h"
#include "host/ublk.h"

/* A killed host process stays a zombie until its reaper (init, or a container's PID 1, which may be
 * slow) collects it; it serves nothing by then, so it counts as dead. */
static bool pid_alive(int pid)
{
	char path[64], buf[512];
	const char *state;
	ssize_t n;
	int fd;

	if (pid <= 0 || (kill(pid, 0) && errno != EPERM))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = 0;
	/* "pid (comm) S ...": comm may hold spaces and parentheses, the state follows the last ')'. */
	state = strrchr(buf, ')');
	return !(state && (state[1] == ' ') && (state[2] == 'Z' || state[2] == 'X'));
}

int hostd_list(const char *state_dir, struct hostd_record **out)
{
	struct hostd_record *recs = NULL;
	char dir[PATH_MAX];
	struct dirent *de;
	int n = 0, cap = 0;
	DIR *d;

	*out = NULL;
	snprintf(dir, sizeof(dir), "%s/ctrl", state_dir);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[PATH_MAX + 256];
		size_t len = strlen(de->d_name);
		struct hostd_record r;

		if (len < 6 || strcmp(de->d_name + len - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		/* A record just claimed ("{}") names no controller yet. */
		if (hostd_record_read(path, &r) || !r.name[0]) {
			hostd_record_clear(&r);
			continue;
		}
		if (!pid_alive(r.pid))
			r.state = HREC_DEAD;
		if (n == cap) {
			struct hostd_record *more = realloc(recs, (size_t)(cap = cap ? 2 * cap : 8) * sizeof(*recs));

			if (!more) {
				hostd_record_clear(&r);
				break;
			}
			recs = more;
		}
		recs[n++] = r;
	}
	closedir(d);
	*out = recs;
	return n;
}

void hostd_list_free(struct hostd_record *recs, int n)
{
	for (int i = 0; i < n; i++)
		hostd_record_clear(&recs[i]);
	free(recs);
}

/* Is 'loop' still over 'file'? A dead process's paths all name the same loop devices: the first
 * record cleaned up detaches them, and by the next one the device may serve somebody else. */
static bool loop_backs(const char *loop, const char *file)
{
	char path[96], backing[PATH_MAX] = "";
	FILE *f;

	if (strncmp(loop, "/dev/", 5))
		return false;
	snprintf(path, sizeof(path), "/sys/block/%.32s/loop/backing_file", loop + 5);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(backing, sizeof(backing), f))
		backing[0] = 0;
	fclose(f);
	backing[strcspn(backing, "\n")] = 0;
	return !strcmp(backing, file);
}

/* What a killed host process left: its mounts, loop devices and files. */
static void cleanup_dead(const char *state_dir, const struct hostd_record *r, const char *name)
{
	char p[PATH_MAX + 64];

	for (int i = 0; i < r->nr_ns; i++) {
		struct ns_dev ns = { 0 };

		if (!strncmp(r->ns[i].loop, "/dev/ublkb", 10)) {
			ublk_cleanup_dead(r->ns[i].loop, r->pid); /* only if that process served it */
			continue;
		}
		if (!r->ns[i].loop[0] || !loop_backs(r->ns[i].loop, r->ns[i].file))
			continue;
		snprintf(ns.loop, sizeof(ns.loop), "%s", r->ns[i].loop);
		loop_detach(&ns);
	}
	if (r->mountpoint[0]) {
		umount2(r->mountpoint, MNT_DETACH);
		rmdir(r->mountpoint);
	}
	snprintf(p, sizeof(p), "%s/ctrl/%s.sock", state_dir, name);
	unlink(p);
	if (r->sock[0])
		unlink(r->sock);
	snprintf(p, sizeof(p), "%s/ctrl/%s.json", state_dir, name);
	unlink(p);
}

/* Ask a live host process to remove path 'name' (and itself with its last path) and wait for it to
 * go; 0, or -ETIMEDOUT with 'why' set. */
static int ask_disconnect(const char *state_dir, const struct hostd_record *r, char *why, size_t whylen)
{
	const char *name = r->name;
	int pid = r->pid;
	char req[40];
	bool others = false;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), err = 0;
	char reply[320] = "";
	struct timeval tv = { .tv_sec = 60 };
	ssize_t got = -1;

	if (r->sock[0])
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%.107s", r->sock);
	else
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/ctrl/%s.sock", state_dir, name);
	snprintf(req, sizeof(req), "disconnect %s\n", name);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	errno = 0;
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req) || (got = read(fd, reply, sizeof(reply) - 1)) <= 0) {
		snprintf(why, whylen, "%s (pid %d) did not answer the disconnect: %s", name, pid,
			 got == 0 ? "it closed the connection" : strerror(errno));
		err = -ETIMEDOUT;
	}
	if (fd >= 0)
		close(fd);
	if (!err && !strncmp(reply, "ERR", 3)) {
		reply[strcspn(reply, "\n")] = 0;
		snprintf(why, whylen, "%s (pid %d): %s", name, pid, reply + 4);
		return -EINVAL;
	}
	/* The process exits right after answering for its last path; with others it stays. */
	if (!err) {
		struct hostd_record *recs;
		int n = hostd_list(state_dir, &recs);

		for (int k = 0; k < n; k++)
			others |= recs[k].pid == pid && strcmp(recs[k].name, name) && recs[k].state != HREC_DEAD;
		hostd_list_free(recs, n);
	}
	for (int i = 0; i < 200 && !others && pid_alive(pid); i++)
		usleep(50000);
	return err;
}

int hostd_disconnect(const char *state_dir, const char *name, char *why, size_t whylen)
{
	char path[PATH_MAX + 64];
	struct hostd_record r;
	int err = 0;

	snprintf(path, sizeof(path), "%s/ctrl/%s.json", state_dir, name);
	if (hostd_record_read(path, &r)) {
		snprintf(why, whylen, "no controller %s", name);
		return -ENOENT;
	}
	if (pid_alive(r.pid)) {
		err = ask_disconnect(state_dir, &r, why, whylen);
		if (err && !pid_alive(r.pid)) {
			/* It died instead of answering (killed a moment ago, or crashed while tearing down):
			 * what it left behind is ours to clean up, as for any dead one. */
			cleanup_dead(state_dir, &r, name);
			err = 0;
		}
	} else {
		cleanup_dead(state_dir, &r, name);
	}
	hostd_record_clear(&r);
	return err;
}
