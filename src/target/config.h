/* config.c's readers of nvmetcli-style JSON, shared with reload.c, which checks a new config with the
 * same rules before it changes anything. Each logs what is wrong and returns -EINVAL (or -ERANGE). */
#ifndef TIGHTROPE_TARGET_CONFIG_H
#define TIGHTROPE_TARGET_CONFIG_H

#include <json-c/json.h>

#include "target/backend.h"
#include "target/target.h"

/* A key's value of the type wanted (*out NULL if absent or null); `where` names the object in logs. */
int tgt_jopt(json_object *o, const char *key, json_type type, const char *where, json_object **out);
int tgt_jopt_str(json_object *o, const char *key, const char *where, const char **out);
int tgt_jopt_str_array(json_object *o, const char *key, const char *where, json_object **out);
/* "1", 1 and true are yes, as nvmetcli writes attributes. */
bool tgt_jbool(json_object *o, const char *key);
/* A number, maybe written as a string; *out unchanged when absent. */
int tgt_jnum(json_object *o, const char *key, const char *where, long min, long max, long *out);
/* A namespace entry's parameters; uuid and nguid are the caller's 16-byte buffers p points into. */
int tgt_config_ns_params(const char *nqn, json_object *n, struct tgt_ns_params *p, uint8_t *uuid, uint8_t *nguid);
/* A port address's tsas/treq as a TLS mode. */
int tgt_config_port_tls(json_object *addr, int id, enum tgt_tls_mode *tls);

#endif
