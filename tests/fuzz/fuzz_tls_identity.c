/* libFuzzer harness for the target's parser of a TLS client's PSK identity (src/target/tls.c), the
 * one string of a ClientHello that tightrope reads itself: whatever it accepts must give two
 * terminated NQNs that fit their fields, and put back together must be the identity it was given. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "target/queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[2048], host[NVME_NQN_SIZE + 8], sub[NVME_NQN_SIZE + 8], again[2100];
	uint8_t hash = 0;

	if (size >= sizeof(id))
		return 0;
	memcpy(id, data, size);
	id[size] = 0; /* OpenSSL's callback gets a length; the target makes it a string first */
	memset(host, 0x5a, sizeof(host));
	memset(sub, 0x5a, sizeof(sub));
	if (!tgt_tls_parse_identity(id, &hash, host, sub))
		return 0;
	if ((hash != 1 && hash != 2) || !memchr(host, 0, NVME_NQN_SIZE) || !memchr(sub, 0, NVME_NQN_SIZE) ||
	    host[NVME_NQN_SIZE] != 0x5a || sub[NVME_NQN_SIZE] != 0x5a)
		abort();
	snprintf(again, sizeof(again), "NVMe0R0%u %s %s", hash, host, sub);
	if (strcmp(again, id))
		abort();
	return 0;
}
