/* One I/O queue of a host controller as the library hands it out (struct tr_ioq of host.h): the
 * queue and the controller it belongs to. Shared by ctrl.c, which opens them, and ioq.c. */
#ifndef TIGHTROPE_HOST_IOQ_H
#define TIGHTROPE_HOST_IOQ_H

#include "tightrope/host.h"

struct hq;

struct tr_ioq {
	struct hq *hq;
	struct tr_ctrl *ctrl;
};

#endif
