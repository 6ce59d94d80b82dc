/* Namespaces: opening one on its backend (RAM, file or block device, Ceph RBD), the identifiers it
 * shows hosts (pinned, or derived from the target's identity), and its reference count. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme/identify.h"
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

void tgt_ns_put(struct tgt_ns *ns)
{
	if (atomic_fetch_sub_explicit(&ns->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (ns->ops)
		ns->ops->destroy(ns);
	tr_info("namespace %u (%s) closed", ns->nsid, ns->path);
	free(ns->metrics);
	free(ns->path);
	free(ns);
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
	/* Counters for --metrics, one shard per worker; kept even when off, so turning them on needs
	 * no walk over existing namespaces. */
	ns->metrics = tgt_metrics_ns_alloc(tgt ? tgt->nr_workers : 1);
	if (!ns->path || !ns->metrics) {
		free(ns->metrics);
		free(ns->path);
		free(ns);
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
		free(ns->metrics);
		free(ns->path);
		free(ns);
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
	tr_info("namespace %u: %s backend %s, %llu blocks of %u bytes%s%s", p->nsid, ns->ops->kind, p->path,
		(unsigned long long)ns->nlbas, 1u << ns->lba_shift, ns->readonly ? ", read-only" : "",
		ns->buffered && !ns->mem ? ", buffered" : "");
	return ns;
}
