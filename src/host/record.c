/* The controller record's JSON form (STATE_DIR/ctrl/trN.json): the one place its keys are spelled.
 * The order of the keys is the order `list-subsys -o json` prints them in. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/record.h"

static const char *const state_names[] = { "live", "connecting", "deleting", "dead" };

const char *hostd_rec_state_name(enum hostd_rec_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "live";
}

static void add_str(json_object *o, const char *key, const char *v)
{
	json_object_object_add(o, key, json_object_new_string(v));
}

static void add_int(json_object *o, const char *key, int v)
{
	json_object_object_add(o, key, json_object_new_int(v));
}

static json_object *ns_to_json(const struct hostd_rec_ns *n)
{
	json_object *o = json_object_new_object();

	add_int(o, "nsid", (int)n->nsid);
	add_str(o, "file", n->file);
	add_str(o, "loop", n->loop);
	json_object_object_add(o, "nsze", json_object_new_int64((int64_t)n->nsze));
	add_int(o, "lba_size", (int)n->lba_size);
	return o;
}

json_object *hostd_record_to_json(const struct hostd_record *r)
{
	json_object *o = json_object_new_object(), *nss = json_object_new_array();

	add_str(o, "name", r->name);
	add_int(o, "pid", r->pid);
	add_str(o, "state", hostd_rec_state_name(r->state));
	add_int(o, "attempt", r->attempt);
	add_int(o, "max_attempts", r->max_attempts);
	add_int(o, "next_attempt_in_s", r->next_attempt_in_s);
	json_object_object_add(o, "written_at", json_object_new_int64(r->written_at));
	add_str(o, "transport", "tcp"); /* the only one */
	add_str(o, "traddr", r->traddr);
	add_str(o, "trsvcid", r->trsvcid);
	add_str(o, "subnqn", r->subnqn);
	add_str(o, "hostnqn", r->hostnqn);
	add_str(o, "auth", r->auth[0] ? r->auth : "none");
	add_int(o, "cntlid", r->cntlid);
	add_str(o, "serial", r->serial);
	add_str(o, "model", r->model);
	add_str(o, "firmware", r->firmware);
	add_str(o, "mountpoint", r->mountpoint);
	add_str(o, "subsys", r->subsys);
	add_str(o, "sock", r->sock);
	add_str(o, "iopolicy", r->iopolicy);
	add_str(o, "ana_state", r->ana_state);
	add_str(o, "last_error", r->last_error);
	for (int i = 0; i < r->nr_ns; i++)
		json_object_array_add(nss, ns_to_json(&r->ns[i]));
	json_object_object_add(o, "namespaces", nss);
	return o;
}

static void get_str(json_object *o, const char *key, char *out, size_t len)
{
	json_object *v;

	snprintf(out, len, "%s", json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "");
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : 0;
}

static enum hostd_rec_state get_state(json_object *o)
{
	char s[16];

	get_str(o, "state", s, sizeof(s));
	for (int i = 0; i < (int)(sizeof(state_names) / sizeof(state_names[0])); i++)
		if (!strcmp(s, state_names[i]))
			return (enum hostd_rec_state)i;
	return HREC_LIVE;
}

static int ns_from_json(json_object *o, struct hostd_record *r)
{
	json_object *nss;
	size_t n;

	if (!json_object_object_get_ex(o, "namespaces", &nss) || !json_object_is_type(nss, json_type_array))
		return 0;
	n = json_object_array_length(nss);
	r->ns = n ? calloc(n, sizeof(*r->ns)) : NULL;
	if (n && !r->ns)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *j = json_object_array_get_idx(nss, i);
		struct hostd_rec_ns *ns = &r->ns[r->nr_ns++];

		ns->nsid = (uint32_t)get_int(j, "nsid");
		get_str(j, "file", ns->file, sizeof(ns->file));
		get_str(j, "loop", ns->loop, sizeof(ns->loop));
		ns->nsze = (uint64_t)get_int(j, "nsze");
		ns->lba_size = (uint32_t)get_int(j, "lba_size");
	}
	return 0;
}

int hostd_record_from_json(json_object *o, struct hostd_record *r)
{
	memset(r, 0, sizeof(*r));
	if (!json_object_is_type(o, json_type_object))
		return -EINVAL;
	get_str(o, "name", r->name, sizeof(r->name));
	r->pid = (int)get_int(o, "pid");
	r->state = get_state(o);
	r->attempt = (int)get_int(o, "attempt");
	r->max_attempts = (int)get_int(o, "max_attempts");
	r->next_attempt_in_s = (int)get_int(o, "next_attempt_in_s");
	r->written_at = get_int(o, "written_at");
	get_str(o, "traddr", r->traddr, sizeof(r->traddr));
	get_str(o, "trsvcid", r->trsvcid, sizeof(r->trsvcid));
	get_str(o, "subnqn", r->subnqn, sizeof(r->subnqn));
	get_str(o, "hostnqn", r->hostnqn, sizeof(r->hostnqn));
	get_str(o, "auth", r->auth, sizeof(r->auth));
	r->cntlid = (int)get_int(o, "cntlid");
	get_str(o, "serial", r->serial, sizeof(r->serial));
	get_str(o, "model", r->model, sizeof(r->model));
	get_str(o, "firmware", r->firmware, sizeof(r->firmware));
	get_str(o, "mountpoint", r->mountpoint, sizeof(r->mountpoint));
	get_str(o, "subsys", r->subsys, sizeof(r->subsys));
	get_str(o, "sock", r->sock, sizeof(r->sock));
	get_str(o, "iopolicy", r->iopolicy, sizeof(r->iopolicy));
	get_str(o, "ana_state", r->ana_state, sizeof(r->ana_state));
	get_str(o, "last_error", r->last_error, sizeof(r->last_error));
	return ns_from_json(o, r);
}

int hostd_record_write(const char *path, const struct hostd_record *r)
{
	json_object *o = hostd_record_to_json(r);
	char tmp[PATH_MAX + 8];
	int err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PRETTY) || rename(tmp, path))
		err = -EIO;
	json_object_put(o);
	return err;
}

int hostd_record_read(const char *path, struct hostd_record *r)
{
	json_object *o = json_object_from_file(path);
	int err;

	memset(r, 0, sizeof(*r));
	if (!o)
		return -ENOENT;
	err = hostd_record_from_json(o, r);
	json_object_put(o);
	return err;
}

void hostd_record_clear(struct hostd_record *r)
{
	free(r->ns);
	r->ns = NULL;
	r->nr_ns = 0;
}
