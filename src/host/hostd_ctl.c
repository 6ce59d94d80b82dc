/* The host process's control socket, both ends: the process answers "disconnect [NAME]", "status"
 * and "add-path" (a `connect` to another portal of its subsystem, the options as JSON), and the CLI
 * sends "add-path" with hostd_add_path. The socket is 0600 in a 0700 directory: the secrets an added
 * path needs travel over it, never on a command line. */
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/hostd.h"
#include "host/hostd_ctl.h"
#include "util/log.h"

#define CTL_MAX_REQUEST 16384

int hostd_ctl_listen(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || len >= sizeof(sun.sun_path))
		return -1;
	memcpy(sun.sun_path, path, len + 1);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) || listen(fd, 8)) {
		close(fd);
		return -1;
	}
	chmod(path, 0600);
	return fd;
}

static void reply(int fd, const char *msg)
{
	(void)!write(fd, msg, strlen(msg));
	close(fd);
}

/* ---- The options of an added path, as JSON ---- */

static void add_str(json_object *o, const char *k, const char *v)
{
	if (v)
		json_object_object_add(o, k, json_object_new_string(v));
}

static void add_int(json_object *o, const char *k, int v)
{
	json_object_object_add(o, k, json_object_new_int(v));
}

static json_object *opts_to_json(const struct hostd_opts *o)
{
	json_object *j = json_object_new_object();
	char hostid[33];

	for (int i = 0; i < 16; i++)
		snprintf(hostid + 2 * i, 3, "%02x", o->conn.hostid[i]);
	add_str(j, "subnqn", o->conn.subnqn);
	add_str(j, "hostnqn", o->conn.hostnqn);
	add_str(j, "traddr", o->conn.traddr);
	add_str(j, "trsvcid", o->conn.trsvcid);
	add_str(j, "hostid", hostid);
	add_int(j, "nr_io_queues", o->conn.nr_io_queues);
	add_int(j, "queue_size", o->conn.queue_size);
	add_int(j, "kato", o->conn.kato_s);
	add_int(j, "hdr_digest", o->conn.hdr_digest);
	add_int(j, "data_digest", o->conn.data_digest);
	add_int(j, "disable_sqflow", o->conn.disable_sqflow);
	add_int(j, "cmd_timeout_ms", o->conn.cmd_timeout_ms);
	add_int(j, "connect_timeout_ms", o->conn.connect_timeout_ms);
	add_str(j, "dhchap_secret", o->conn.dhchap_secret);
	add_str(j, "dhchap_ctrl_secret", o->conn.dhchap_ctrl_secret);
	add_int(j, "tls", o->conn.tls);
	add_str(j, "tls_key", o->conn.tls_key);
	add_int(j, "reconnect_delay", o->reconnect_delay_s);
	add_int(j, "ctrl_loss_tmo", o->ctrl_loss_tmo_s);
	add_int(j, "fast_io_fail_tmo", o->fast_io_fail_tmo_s);
	if (o->iopolicy_set)
		add_str(j, "iopolicy", mpath_iopolicy_name(o->iopolicy));
	return j;
}

static const char *get_str(json_object *j, const char *k)
{
	json_object *v;

	return json_object_object_get_ex(j, k, &v) && json_object_is_type(v, json_type_string) ? json_object_get_string(v)
												    : NULL;
}

static int get_int(json_object *j, const char *k, int dflt)
{
	json_object *v;

	return json_object_object_get_ex(j, k, &v) ? json_object_get_int(v) : dflt;
}

static char *dup_secret(const char *s)
{
	return s && s[0] ? strdup(s) : NULL;
}

/* The new path's options: the process's, with what the request says over them. */
static void path_from_json(struct hpath *p, json_object *j)
{
	struct hostd *h = p->h;
	struct tr_ctrl_opts *c = &p->o.conn;
	const char *hostid = get_str(j, "hostid"), *traddr = get_str(j, "traddr"), *trsvcid = get_str(j, "trsvcid");

	p->o = h->o;
	snprintf(p->traddr, sizeof(p->traddr), "%s", traddr ? traddr : "");
	snprintf(p->trsvcid, sizeof(p->trsvcid), "%s", trsvcid ? trsvcid : "4420");
	c->traddr = p->traddr;
	c->trsvcid = p->trsvcid;
	c->subnqn = h->subnqn;
	c->hostnqn = h->hostnqn;
	for (int i = 0; hostid && strlen(hostid) == 32 && i < 16; i++) {
		unsigned v = 0;

		sscanf(hostid + 2 * i, "%2x", &v);
		c->hostid[i] = (uint8_t)v;
	}
	c->nr_io_queues = get_int(j, "nr_io_queues", c->nr_io_queues);
	c->queue_size = get_int(j, "queue_size", c->queue_size);
	c->kato_s = get_int(j, "kato", c->kato_s);
	c->hdr_digest = get_int(j, "hdr_digest", 0);
	c->data_digest = get_int(j, "data_digest", 0);
	c->disable_sqflow = get_int(j, "disable_sqflow", 0);
	c->cmd_timeout_ms = get_int(j, "cmd_timeout_ms", c->cmd_timeout_ms);
	c->connect_timeout_ms = get_int(j, "connect_timeout_ms", c->connect_timeout_ms);
	c->tls = get_int(j, "tls", 0);
	p->secret = dup_secret(get_str(j, "dhchap_secret"));
	p->ctrl_secret = dup_secret(get_str(j, "dhchap_ctrl_secret"));
	p->tls_key = dup_secret(get_str(j, "tls_key"));
	c->dhchap_secret = p->secret;
	c->dhchap_ctrl_secret = p->ctrl_secret;
	c->tls_key = p->tls_key;
	p->o.reconnect_delay_s = get_int(j, "reconnect_delay", p->o.reconnect_delay_s);
	p->o.ctrl_loss_tmo_s = get_int(j, "ctrl_loss_tmo", p->o.ctrl_loss_tmo_s);
	p->o.fast_io_fail_tmo_s = get_int(j, "fast_io_fail_tmo", p->o.fast_io_fail_tmo_s);
}

/* ---- The process's side ---- */

/* A free slot, or why there is none (the subsystem already reached through that portal, ...). */
static struct hpath *new_path_slot(struct hostd *h, json_object *j, char *why, size_t whylen)
{
	const char *subnqn = get_str(j, "subnqn"), *hostnqn = get_str(j, "hostnqn"), *traddr = get_str(j, "traddr");
	const char *trsvcid = get_str(j, "trsvcid") ? get_str(j, "trsvcid") : "4420";
	struct hpath *free_slot = NULL;

	if (h->state != HS_LIVE) {
		snprintf(why, whylen, "the host process is shutting down");
		return NULL;
	}
	if (!subnqn || !hostnqn || !traddr || strcmp(subnqn, h->subnqn) || strcmp(hostnqn, h->hostnqn)) {
		snprintf(why, whylen, "not this host process's subsystem and host NQN");
		return NULL;
	}
	for (int i = 0; i < MAX_PATHS; i++) {
		struct hpath *p = &h->paths[i];

		if (!p->used) {
			free_slot = free_slot ? free_slot : p;
			continue;
		}
		if (p->state != PS_DELETING && !strcmp(p->traddr, traddr) && !strcmp(p->trsvcid, trsvcid)) {
			snprintf(why, whylen, "already connected to %s at %s:%s as %s", h->subnqn, traddr, trsvcid, p->name);
			return NULL;
		}
	}
	if (!free_slot)
		snprintf(why, whylen, "no room for another path (%d)", MAX_PATHS);
	return free_slot;
}

static void add_path(struct hostd *h, int fd, const char *body)
{
	json_object *j = json_tokener_parse(body);
	char why[300] = "", msg[320];
	struct hpath *p = j ? new_path_slot(h, j, why, sizeof(why)) : NULL;
	const char *policy = j ? get_str(j, "iopolicy") : NULL;

	if (!j)
		snprintf(why, sizeof(why), "add-path: not JSON");
	if (p) {
		*p = (struct hpath){ .h = h, .idx = p->idx, .used = true, .reply_fd = fd, .state = PS_NEW };
		path_from_json(p, j);
		if (path_claim_name(p, h->o.state_dir)) {
			snprintf(why, sizeof(why), "no free controller name");
			p->used = false;
			p = NULL;
		}
	}
	if (p && policy && hostd_iopolicy_parse(policy, &h->iopolicy) == 0)
		tr_info("%s: iopolicy %s", h->name, policy);
	json_object_put(j);
	if (!p) {
		snprintf(msg, sizeof(msg), "ERR %s\n", why);
		reply(fd, msg);
		return;
	}
	tr_info("%s: connecting path %s to %s:%s", h->name, p->name, p->traddr, p->trsvcid);
	path_start_job(p); /* new_path_done() answers */
}

static struct hpath *path_by_name(struct hostd *h, const char *name)
{
	for (int i = 0; i < MAX_PATHS; i++)
		if (h->paths[i].used && !strcmp(h->paths[i].name, name))
			return &h->paths[i];
	return NULL;
}

static void disconnect(struct hostd *h, int fd, const char *name)
{
	struct hpath *p = name[0] ? path_by_name(h, name) : NULL;

	if (name[0] && (!p || p->state == PS_NEW)) {
		reply(fd, p ? "ERR the path is still connecting\n" : "ERR no such path\n");
		return;
	}
	if (p && p->state == PS_DELETING) {
		reply(fd, "ok\n"); /* on its way out already */
		return;
	}
	tr_info("%s: disconnect requested%s%s", h->name, name[0] ? " for " : "", name);
	if (p) {
		p->reply_fd = fd;
		path_remove(p, "disconnect");
		return;
	}
	if (h->reply_fd >= 0)
		close(h->reply_fd);
	h->reply_fd = fd;
	hostd_start_teardown(h, "disconnect");
}

void hostd_ctl_accept(struct hostd *h)
{
	int fd = accept4(h->ctl_fd, NULL, NULL, SOCK_CLOEXEC);
	struct timeval tv = { .tv_sec = 2 };
	char *req;
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return;
	req = calloc(1, CTL_MAX_REQUEST + 1);
	if (!req) {
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* A one-line request may come without EOF (older clients); add-path ends with one. */
	while (got < CTL_MAX_REQUEST && (n = recv(fd, req + got, CTL_MAX_REQUEST - got, 0)) > 0) {
		got += (size_t)n;
		if (strncmp(req, "add-path", 8) && memchr(req, '\n', got))
			break;
	}
	if (!strncmp(req, "add-path\n", 9)) {
		add_path(h, fd, req + 9);
	} else if (!strncmp(req, "disconnect", 10) && (req[10] == '\n' || req[10] == ' ' || !req[10])) {
		char name[16] = "";

		if (req[10] == ' ')
			sscanf(req + 11, "%15s", name);
		disconnect(h, fd, name);
	} else {
		hostd_write_state(h);
		reply(fd, "ok\n");
	}
	memset(req, 0, got); /* it may have held secrets */
	free(req);
}

/* ---- The CLI's side ---- */

int hostd_add_path(const char *sock, const struct hostd_opts *o, char *name, size_t namelen, char *why,
		   size_t whylen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* Long enough for a connect that times out, and its thread's Identify and ANA log reads. */
	struct timeval tv = { .tv_sec = o->conn.connect_timeout_ms / 1000 + 60 };
	json_object *j = opts_to_json(o);
	const char *body = json_object_to_json_string(j);
	char msg[400] = "";
	ssize_t n, got = 0;
	int err = 0;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) || write(fd, "add-path\n", 9) != 9 ||
	    write(fd, body, strlen(body)) != (ssize_t)strlen(body)) {
		snprintf(why, whylen, "cannot reach the host process at %s: %s", sock, strerror(errno));
		err = -EIO;
	}
	memset((char *)body, 0, strlen(body)); /* the secrets */
	json_object_put(j);
	if (!err) {
		shutdown(fd, SHUT_WR);
		while ((n = read(fd, msg + got, sizeof(msg) - 1 - (size_t)got)) > 0)
			got += n;
		msg[got] = 0;
		msg[strcspn(msg, "\n")] = 0;
		if (!strncmp(msg, "OK ", 3))
			snprintf(name, namelen, "%s", msg + 3);
		else
			snprintf(why, whylen, "%s", !strncmp(msg, "ERR ", 4) ? msg + 4 : "the host process did not answer"),
				err = -ECONNREFUSED;
	}
	if (fd >= 0)
		close(fd);
	return err;
}
