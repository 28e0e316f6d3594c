#ifndef PETITION_RPC_CJANSSON_SHIM_H
#define PETITION_RPC_CJANSSON_SHIM_H
#include <jansson.h>

/* jansson's refcount helpers are static inline in the header with macros Swift cannot see
   through in every version; these shims give Swift plain functions to call. */
static inline json_t *cjansson_incref(json_t *json) { return json_incref(json); }
static inline void cjansson_decref(json_t *json) { json_decref(json); }
static inline int cjansson_typeof(const json_t *json) { return (int)json_typeof(json); }

#endif
