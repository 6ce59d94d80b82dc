/* Persist Through Power Loss: a namespace's reservations kept in the target's state directory while
 * PTPL is on (STATE/reservations/NGUID.json), so a restart, or a crash, finds them again. Keyed by
 * the NGUID, which follows the target's identity, the subsystem, the NSID and the storage: other
 * storage under the same NSID starts clean. Written to a temporary file, synced and renamed over the
 * old one, so a crash leaves the old state or the new, never half of one. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nvme/identify.h"
#include "target/resv.h"
#include "util/log.h"

static char *store_dir; /* STATE/reservations; NULL: nowhere to keep them (PTPL not offered) */

int tgt_resv_store_init(const char *state_dir)
{
	free(store_dir);
	store_dir = NULL;
	if (!state_dir)
		return 0;
	if (asprintf(&store_dir, "%s/reservations", state_dir) < 0) {
		store_dir = NULL;
		return -ENOMEM;
	}
	return 0;
}

bool tgt_resv_store_available(void)
{
	return store_dir != NULL;
}

static int store_path(const struct tgt_ns *ns, char *out, size_t len)
{
	char nguid[40];

	nvme_uuid_format(ns->nguid, nguid);
	return snprintf(out, len, "%s/%s.json", store_dir, nguid) >= (int)len ? -ENAMETOOLONG : 0;
}

static json_object *state_json(const struct tgt_ns *ns)
{
	const struct nvme_resv *s = &ns->resv->state;
	json_object *o = json_object_new_object(), *regs = json_object_new_array();
	char text[40];

	nvme_uuid_format(ns->nguid, text);
	json_object_object_add(o, "nguid", json_object_new_string(text));
	json_object_object_add(o, "nsid", json_object_new_int64(ns->nsid));
	json_object_object_add(o, "generation", json_object_new_int64(s->generation));
	json_object_object_add(o, "rtype", json_object_new_int(s->rtype));
	json_object_object_add(o, "holder", json_object_new_int(s->holder));
	for (unsigned i = 0; i < s->nreg; i++) {
		json_object *r = json_object_new_object();

		nvme_uuid_format(s->reg[i].hostid, text);
		json_object_object_add(r, "hostid", json_object_new_string(text));
		/* A key is 64 bits: as a string, since JSON numbers stop short of that. */
		snprintf(text, sizeof(text), "%" PRIu64, s->reg[i].rkey);
		json_object_object_add(r, "rkey", json_object_new_string(text));
		json_object_array_add(regs, r);
	}
	json_object_object_add(o, "registrants", regs);
	return o;
}

/* Write 'text' to 'path' so that a crash at any point leaves the old file or the new one. */
static int write_atomically(const char *path, const char *text)
{
	char tmp[PATH_MAX];
	size_t len = strlen(text);
	int fd, dfd, err = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd))
		err = errno ? -errno : -EIO;
	close(fd);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		unlink(tmp);
		return err;
	}
	/* The rename itself must reach the disk too. */
	dfd = open(store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int tgt_resv_store_save(const struct tgt_ns *ns)
{
	char path[PATH_MAX];
	json_object *o;
	int err;

	if (!store_dir)
		return 0;
	err = store_path(ns, path, sizeof(path));
	if (err)
		return err;
	if (!ns->resv->state.ptpl) {
		/* Off: nothing survives a restart, so nothing is kept. */
		return unlink(path) && errno != ENOENT ? -errno : 0;
	}
	if (mkdir(store_dir, 0700) && errno != EEXIST)
		return -errno;
	o = state_json(ns);
	err = write_atomically(path, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
	if (err)
		tr_err("nsid %u: cannot keep its reservations in %s: %s", ns->nsid, path, strerror(-err));
	return err;
}

/* One registrant from the file into 'reg'; false if it is not one. */
static bool load_registrant(json_object *r, struct nvme_resv_registrant *reg)
{
	json_object *hostid, *rkey;
	const char *key;
	char *end;

	if (!json_object_object_get_ex(r, "hostid", &hostid) || !json_object_object_get_ex(r, "rkey", &rkey) ||
	    !json_object_is_type(rkey, json_type_string) ||
	    nvme_uuid_parse(json_object_get_string(hostid), reg->hostid))
		return false;
	key = json_object_get_string(rkey);
	errno = 0;
	reg->rkey = strtoull(key, &end, 10);
	return !errno && end != key && !*end;
}

/* The state the file describes, checked as if a host had sent it: false if anything is off. */
static bool load_state(json_object *o, struct nvme_resv *s)
{
	json_object *regs, *v;
	int64_t rtype, holder;

	if (!json_object_object_get_ex(o, "registrants", &regs) || !json_object_is_type(regs, json_type_array) ||
	    json_object_array_length(regs) > NVME_RESV_MAX_REGISTRANTS)
		return false;
	nvme_resv_init(s);
	for (size_t i = 0; i < json_object_array_length(regs); i++) {
		if (!load_registrant(json_object_array_get_idx(regs, i), &s->reg[i]))
			return false;
		for (size_t k = 0; k < i; k++)
			if (!memcmp(s->reg[k].hostid, s->reg[i].hostid, 16))
				return false;
	}
	s->nreg = (unsigned)json_object_array_length(regs);
	rtype = json_object_object_get_ex(o, "rtype", &v) ? json_object_get_int64(v) : -1;
	holder = json_object_object_get_ex(o, "holder", &v) ? json_object_get_int64(v) : -2;
	if (rtype < NVME_RESV_NONE || rtype > NVME_RESV_EXCLUSIVE_ACCESS_ALL_REGS)
		return false;
	if (rtype != NVME_RESV_NONE && (s->nreg == 0 || holder < 0 || holder >= (int64_t)s->nreg))
		return false;
	s->rtype = (uint8_t)rtype;
	s->holder = rtype == NVME_RESV_NONE ? -1 : (int)holder;
	s->generation = json_object_object_get_ex(o, "generation", &v) ? (uint32_t)json_object_get_int64(v) : 0;
	s->ptpl = true;
	return true;
}

void tgt_resv_store_load(struct tgt_ns *ns)
{
	char path[PATH_MAX];
	json_object *o;
	struct nvme_resv s;

	if (!store_dir || store_path(ns, path, sizeof(path)) || access(path, F_OK))
		return;
	o = json_object_from_file(path);
	if (!o || !load_state(o, &s)) {
		/* Not ours to repair: the namespace starts without reservations and the file stays for a
		 * person to look at (the next change with PTPL on replaces it). */
		tr_err("nsid %u: %s is not a reservation state this target wrote; starting without reservations",
		       ns->nsid, path);
		json_object_put(o);
		return;
	}
	json_object_put(o);
	ns->resv->state = s;
	atomic_store(&ns->resv_rtype, s.rtype);
	atomic_store(&ns->resv_in_use, s.nreg > 0);
	tr_info("nsid %u: %u registrant(s) and reservation type %u kept through the restart (%s)", ns->nsid, s.nreg,
		s.rtype, path);
}
