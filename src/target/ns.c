/* Namespaces: opening one on its backend (RAM, file or block device, Ceph RBD), the identifiers it
 * shows hosts (pinned, or derived from the target's identity), and its reference count. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme/identify.h"
#include "target/resv.h"
#include "target/target.h"
#include "util/log.h"

/* Numbers that keep a namespace's derived NGUID and EUI-64 apart from its UUID. Fixed for good:
 * another value would change every identifier a target has handed out. */
#define DERIVE_NGUID 0x80000000u
#define DERIVE_EUI64 0x40000000u

void tgt_ns_get(struct tgt_ns *ns)
{
	atomic_fetch_add_explicit(&ns->refs, 1, memory_order_relaxed);
}

/* What a namespace holds besides its backend (closed before, or never opened). */
static void ns_free(struct tgt_ns *ns)
{
	tgt_lba_gate_free(ns->gate);
	tgt_resv_free(ns->resv);
	free(ns->metrics);
	free(ns->path);
	free(ns);
}

void tgt_ns_put(struct tgt_ns *ns)
{
	if (atomic_fetch_sub_explicit(&ns->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (ns->ops)
		ns->ops->destroy(ns);
	tr_info("namespace %u (%s) closed", ns->nsid, ns->path);
	ns_free(ns);
}

/* Namespace identifiers: pinned by the config, or derived from this target's identity, the NQN, the
 * NSID and the storage behind it, so they are stable across restarts, differ between boxes, and
 * change when the same NSID is given other storage (a host would take equal NGUIDs for one
 * namespace). The EUI-64 follows the NGUID, so pinning the NGUID pins it too. */
static int ns_derive_ids(struct tgt_ns *ns, const char *subnqn, const struct tgt_ns_params *p)
{
	bool mem = !strncmp(p->path, TGT_MEM_PREFIX, strlen(TGT_MEM_PREFIX));
	char *what, *real = mem ? NULL : realpath(p->path, NULL);
	char nguid[40];
	uint8_t id[16];
	int err = 0;

	if (asprintf(&what, "%s %s", subnqn, real ? real : p->path) < 0)
		what = NULL;
	free(real);
	if (!what)
		return -ENOMEM;
	if (p->uuid)
		memcpy(ns->uuid, p->uuid, sizeof(ns->uuid));
	else
		err = tgt_derive_id(ns->uuid, what, p->nsid, true);
	if (p->nguid)
		memcpy(ns->nguid, p->nguid, sizeof(ns->nguid));
	else if (!err)
		err = tgt_derive_id(ns->nguid, what, p->nsid | DERIVE_NGUID, false);
	free(what);
	if (err)
		return err;
	nvme_uuid_format(ns->nguid, nguid);
	nvme_derive_id(id, nguid, DERIVE_EUI64, false);
	memcpy(ns->eui64, id, sizeof(ns->eui64));
	return 0;
}

struct tgt_ns *tgt_ns_open(const char *subnqn, const struct tgt_ns_params *p)
{
	struct tgt_ns *ns = calloc(1, sizeof(*ns));
	int err;

	if (!ns)
		return NULL;
	atomic_init(&ns->refs, 1);
	ns->nsid = p->nsid;
	ns->readonly = p->readonly;
	ns->buffered = p->buffered;
	ns->anagrpid = p->anagrpid ? p->anagrpid : TGT_DEFAULT_ANAGRPID;
	ns->fd = -1;
	ns->path = strdup(p->path);
	ns->resv = tgt_resv_new();
	/* Counters for --metrics, one shard per worker; kept even when off, so turning them on needs
	 * no walk over existing namespaces. */
	ns->metrics = tgt_metrics_ns_alloc(tgt ? tgt->nr_workers : 1);
	ns->gate = tgt_lba_gate_new(tgt ? tgt->nr_workers : 1);
	if (!ns->path || !ns->resv || !ns->metrics || !ns->gate) {
		ns_free(ns);
		return NULL;
	}
	if (!strncmp(p->path, TGT_MEM_PREFIX, strlen(TGT_MEM_PREFIX))) {
		uint64_t size;

		err = tgt_parse_size(p->path + strlen(TGT_MEM_PREFIX), &size);
		/* Checked before the backend opens: the failure path below does not close it. */
		if (!err && p->lba_size && p->lba_size != TGT_LBA_SIZE_512 && p->lba_size != TGT_LBA_SIZE_4K)
			err = -EINVAL;
		if (!err)
			err = tgt_backend_mem_open(ns, size);
		ns->lba_shift = p->lba_size == TGT_LBA_SIZE_4K ? TGT_LBA_SHIFT_4K : TGT_LBA_SHIFT_512;
	} else if (!strncmp(p->path, TGT_RBD_PREFIX, strlen(TGT_RBD_PREFIX))) {
		err = tgt_backend_rbd_open(ns, subnqn, p);
	} else {
		err = tgt_backend_file_open(ns, p->path, p);
	}
	if (err) {
		tr_err("namespace %u: cannot open %s: %s", p->nsid, p->path, strerror(-err));
		ns_free(ns);
		errno = -err;
		return NULL;
	}
	ns->nlbas = ns->size >> ns->lba_shift;
	err = ns_derive_ids(ns, subnqn, p);
	if (err) {
		tr_err("namespace %u: %s", p->nsid, strerror(-err));
		tgt_ns_put(ns); /* the backend is open: closed as any namespace is */
		errno = -err;
		return NULL;
	}
	tgt_resv_store_load(ns); /* reservations kept through a restart, if PTPL was on */
	tr_info("namespace %u: %s backend %s, %llu blocks of %u bytes%s%s", p->nsid, ns->ops->kind, p->path,
		(unsigned long long)ns->nlbas, 1u << ns->lba_shift, ns->readonly ? ", read-only" : "",
		ns->buffered && !ns->mem ? ", buffered" : "");
	return ns;
}

/* ---- Live resize ---- */

int tgt_subsys_resize_ns(struct tgt_subsys *s, uint32_t nsid, uint64_t size, bool force, const char **why)
{
	struct tgt_ns *ns;
	int err;

	*why = NULL;
	if (nsid == 0 || nsid > TGT_MAX_NSID)
		return -ERANGE;
	pthread_mutex_lock(&s->lock);
	ns = s->ns[nsid];
	if (ns)
		tgt_ns_get(ns);
	pthread_mutex_unlock(&s->lock);
	if (!ns)
		return -ENOENT;
	if (ns->readonly) {
		*why = "the namespace is read-only";
		err = -EROFS;
	} else if (!ns->ops->resize) {
		*why = ns->mem ? "a RAM namespace's size is fixed" : "resize the RBD image itself: the target follows it";
		err = -EOPNOTSUPP;
	} else if (size < (1ull << ns->lba_shift) || size & ((1ull << ns->lba_shift) - 1)) {
		*why = "the size must be a whole number of blocks, at least one";
		err = -EINVAL;
	} else {
		err = ns->ops->resize(ns, size, force);
		if (err == -EOPNOTSUPP)
			*why = "a block device's size is its own: grow the device and the target follows it";
		else if (err == -EBUSY)
			*why = "there is data past the new end (--force to cut it off)";
	}
	if (!err)
		tgt_ns_resized(s->nqn, nsid, ns, size);
	tgt_ns_put(ns);
	return err;
}

/* One namespace whose storage may have changed size, held while it is looked at. */
struct sized_ns {
	char nqn[NVME_NQN_SIZE];
	struct tgt_ns *ns;
};

/* The namespaces whose backends can tell their size, each with a reference; *n of them. */
static struct sized_ns *sized_namespaces(size_t *n)
{
	struct sized_ns *v = NULL;
	size_t cap = 0;

	*n = 0;
	pthread_mutex_lock(&tgt->lock);
	for (struct tgt_subsys *s = tgt->subsystems; s; s = s->next) {
		pthread_mutex_lock(&s->lock);
		for (uint32_t nsid = 1; nsid <= TGT_MAX_NSID; nsid++) {
			struct tgt_ns *ns = s->ns[nsid];

			if (!ns || !ns->ops->size_now)
				continue;
			if (*n == cap) {
				struct sized_ns *grown = realloc(v, (cap = cap ? 2 * cap : 16) * sizeof(*v));

				if (!grown)
					break;
				v = grown;
			}
			snprintf(v[*n].nqn, sizeof(v[*n].nqn), "%s", s->nqn);
			tgt_ns_get(ns);
			v[(*n)++].ns = ns;
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&tgt->lock);
	return v;
}

void tgt_ns_revalidate_all(void)
{
	size_t n;
	struct sized_ns *v = sized_namespaces(&n);

	for (size_t i = 0; i < n; i++) {
		struct tgt_ns *ns = v[i].ns;
		uint64_t size, blocks_bytes;

		if (ns->ops->size_now(ns, &size) == 0) {
			/* Whole blocks only, on both sides: a file grown by a few bytes has not grown yet, and
			 * one opened at an odd size has not changed. */
			blocks_bytes = size >> ns->lba_shift << ns->lba_shift;
			if (blocks_bytes >= (1ull << ns->lba_shift) &&
			    blocks_bytes != atomic_load(&ns->size) >> ns->lba_shift << ns->lba_shift)
				tgt_ns_resized(v[i].nqn, ns->nsid, ns, blocks_bytes);
		}
		tgt_ns_put(ns);
	}
	free(v);
}
