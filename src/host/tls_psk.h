/* The host's TLS PSK for one controller, from the configured key nvme-cli's --tls-key names. */
#ifndef TIGHTROPE_HOST_TLS_PSK_H
#define TIGHTROPE_HOST_TLS_PSK_H

#include <stddef.h>

#include "transport/tls.h"

/* key: "NVMeTLSkey-1:HH:...:", or a file whose first such word is the key (a key file, or nvme-cli's
 * keyfile line). Fills the version 0 identity ("NVMe0R0x <hostnqn> <subnqn>") and the TLS PSK.
 * 0, or -EINVAL with 'why' (never the key). */
int host_tls_psk(const char *key, const char *hostnqn, const char *subnqn, struct ntls_psk *out, char *why,
		 size_t whylen);

#endif
